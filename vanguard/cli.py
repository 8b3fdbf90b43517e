"""``python -m vanguard``: LightningCLI's fit/validate/test/predict plus the project's tools, one entry.

Training runs go through :class:`VanguardCLI` (LightningCLI, YAML ``class_path``/``init_args`` configs). Each tool
(``backbone``, ``data``, ``annotate``, ``evaluate``, ``report``, ``demo``, ``ablations``) is a module with a
``main(argv)`` built on jsonargparse, so typed signatures and docstrings are its ``--help``. Tools are imported
lazily: ``--help`` stays fast and one tool's imports never slow another.
"""

from __future__ import annotations

import importlib
import sys

LIGHTNING_SUBCOMMANDS = {
    "fit": "train a curriculum stage (LightningCLI)",
    "validate": "run the validation loop of a stage",
    "test": "evaluate a stage on the test shards; writes metrics.json and per-video frame scores",
    "predict": "explain videos: per-subclip score, category, boxes and reasoning, JSON + HTML",
}
#: tool name -> (module with a ``main(argv)``, one-line description)
TOOLS = {
    "explain": ("vanguard.explain", "explain a video or a folder as events: `explain VIDEO [--model EXPORT] [--out DIR]`"),
    "backbone": ("vanguard.tools.backbone_cli", "build the tiny Qwen3-VL (`backbone tiny DIR`), pretrain it, inspect one"),
    "data": ("vanguard.tools.data_cli", "SynthCrime generation, previews, leakage checks, shard inspection"),
    "annotate": ("vanguard.annotate.cli", "teacher-student annotation of subclips into WebDataset shards"),
    "evaluate": ("vanguard.tools.evaluate_cli", "frame-level protocols on saved scores (ours or a peer's)"),
    "report": ("vanguard.tools.report_cli", "ROC/PR curves, per-category tables, grounding examples for a run"),
    "demo": ("vanguard.tools.demo", "the whole recipe on SynthCrime with the tiny backbone"),
    "ablations": ("vanguard.tools.ablations", "staged vs monolithic vs classification-only, over seeds"),
}


def _usage() -> str:
    lines = ["usage: python -m vanguard <command> [options]   (add --help after a command for its options)", ""]
    lines.append("training (LightningCLI, `--config experiments/<exp>/base.yaml --config experiments/<exp>/<stage>.yaml`):")
    lines += [f"  {name:<10} {text}" for name, text in LIGHTNING_SUBCOMMANDS.items()]
    lines.append("")
    lines.append("tools:")
    lines += [f"  {name:<10} {text}" for name, (_, text) in TOOLS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(_usage())
        return
    command, rest = argv[0], argv[1:]
    if command not in LIGHTNING_SUBCOMMANDS and command not in TOOLS:
        print(f"vanguard: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        raise SystemExit(2)
    from vanguard.errors import VanguardError

    try:
        if command in LIGHTNING_SUBCOMMANDS:
            from vanguard.configs import check_base_given
            from vanguard.lightning_cli import run_lightning_cli

            check_base_given(rest)
            run_lightning_cli(argv)
        else:
            importlib.import_module(TOOLS[command][0]).main(rest)
    except VanguardError as err:  # a user's mistake: one clear line, no traceback from inside a library
        print(f"vanguard {command}: error: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    except SystemExit as err:
        # Lightning turns SIGTERM into SIGTERMException, a SystemExit WITHOUT a code: the process would exit 0, as
        # if the run had finished. Say what happened and exit 143 (128 + SIGTERM) so schedulers and scripts see it.
        if type(err).__name__ != "SIGTERMException":
            raise
        hint = "resume with --ckpt_path last" if command in LIGHTNING_SUBCOMMANDS else "finished work is kept: run it again to continue"
        print(f"vanguard {command}: stopped by SIGTERM; {hint}", file=sys.stderr)
        raise SystemExit(143) from None
