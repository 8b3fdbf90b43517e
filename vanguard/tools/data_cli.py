"""``python -m vanguard data <subcommand>``: SynthCrime generation, previews, leakage checks.

Each subcommand is a typed function (its docstring is the ``--help``); :data:`SUBCOMMANDS` maps names to them, one
line each, so a new subcommand is one function and one line.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jsonargparse import CLI

_ROOT = Path(__file__).resolve().parents[2]


def _default_fixtures() -> Path:
    """$VANGUARD_FIXTURES, else ``shared/fixtures/vad`` beside the checkout (or beside its worktree folder)."""
    if os.environ.get("VANGUARD_FIXTURES"):
        return Path(os.environ["VANGUARD_FIXTURES"])
    for base in (_ROOT.parent, _ROOT.parent.parent):
        if (base / "shared" / "fixtures" / "vad").is_dir():
            return base / "shared" / "fixtures" / "vad"
    return _ROOT.parent / "shared" / "fixtures" / "vad"


DEFAULT_FIXTURES = _default_fixtures()


def synthcrime(out: str, videos: int = 160, zero_shot: int = 40, seed: int = 0, workers: int = 2,
               difficulty: str = "clear") -> None:
    """Generate SynthCrime (UCF-Crime layout) and the two zero-shot domains (XD-Violence, ShanghaiTech layouts).

    Args:
        out: output folder; gets synthcrime/, xd_violence/, shanghaitech/ and manifest.json.
        videos: number of SynthCrime videos (train 60 %, val 10 %, test 30 %; half of each anomalous).
        zero_shot: number of videos in each zero-shot domain (half anomalous).
        seed: random seed; the same seed gives the same videos and labels.
        workers: processes rendering videos in parallel.
        difficulty: ``clear`` (every anomalous subclip shows its event; no look-alike normal behaviours) or ``hard``
            (look-alike normal behaviours reproduce the anomalies' first phases; a research setting).
    """
    from vanguard.data.synthcrime.writer import generate

    m = generate(out, videos=videos, zero_shot=zero_shot, seed=seed, workers=workers, difficulty=difficulty)
    for name, counts in m["domains"].items():
        splits = ", ".join(
            f"{s} {c['videos']} ({c['anomalous']} anomalous)" for s, c in counts.items() if isinstance(c, dict)
        )
        print(f"{name:<13} {counts['resolution']} @ {counts['fps']:g} fps: {splits}; {counts['frames']} frames")
    print(f"wrote {m['videos']} videos ({difficulty} world) to {out} in {m['seconds']:.1f} s")


def preview(
    root: str,
    out: str = "preview.png",
    dataset: str = "synthcrime",
    split: str = "all",
    per_category: int = 1,
    frames: int = 3,
    zoom: int = 2,
    colors: int = 0,
) -> None:
    """Draw frames of one video per category with their ground-truth boxes into a PNG grid.

    Args:
        root: a dataset root (e.g. OUT/synthcrime from `data synthcrime OUT`).
        out: PNG to write.
        dataset: synthcrime, ucf_crime, xd_violence or shanghaitech (the root's layout).
        split: train, val, test or all.
        per_category: example videos per category.
        frames: frames shown per video (spread over its anomaly).
        zoom: integer upscaling of the frames.
        colors: quantize the PNG to this many colours (0: keep full colour).
    """
    from vanguard.data.preview import write_preview

    path = write_preview(
        root, out, dataset=dataset, split=split, per_category=per_category, frames=frames, zoom=zoom, colors=colors
    )
    print(f"wrote {path}")


def _as_list(v: list[str] | str | None) -> list[str]:
    return [] if v is None else [v] if isinstance(v, str) else list(v)


def check_leakage(
    train: list[str] | str | None = None,
    test: list[str] | str | None = None,
    root: list[str] | str | None = None,
    fixtures: str = str(DEFAULT_FIXTURES),
    strict: bool = False,
) -> None:
    """Report training videos that are also test videos, for every (training source, test set) pair.

    With no arguments it checks the real split files in the fixtures folder: UCA Train/Val captions against the
    official UCF-Crime test list (214 of 290 test videos are in UCA Train).

    Args:
        train: training sources (one, or a list '[A,B]'): split lists (.txt), UCA caption files (.json) or CSV
            selections (``uca_split_vs_ucfcrime_split.csv::uca_split=Train``).
        test: test sets, in the same forms.
        root: dataset roots whose own train/val and test files are compared (UCF-Crime/SynthCrime, ShanghaiTech),
            by id and by the videos' bytes (a test video copied into training under another name is a leak).
        fixtures: the real annotation files used when nothing else is given.
        strict: exit with status 1 when there is any overlap.
    """
    from vanguard.data import leakage
    from vanguard.errors import ConfigError

    train_sources = {t: leakage.ids_from_file(t) for t in _as_list(train)}
    test_sets = {t: leakage.ids_from_file(t) for t in _as_list(test)}
    copies: dict[str, list[tuple[str, str]]] = {}
    for r in _as_list(root):
        if not Path(r).is_dir():
            raise ConfigError(f"check-leakage: root {r!r} is not a directory")
        tr, te = leakage.dataset_root_sources(r)
        if not tr and not te:
            raise ConfigError(f"check-leakage: root {r!r} holds no split files (Anomaly_*.txt, UCFCrime_*.json, SH_*.txt)")
        train_sources.update(tr)
        test_sets.update(te)
        copies[r] = leakage.copied_test_videos(*leakage.root_video_paths(r))
    if not train_sources and not test_sets:
        csv = Path(fixtures) / "uca" / "uca_split_vs_ucfcrime_split.csv"
        for split in ("Train", "Val"):
            train_sources[f"UCA {split} ({csv.name})"] = leakage.ids_from_file(f"{csv}::uca_split={split}")
        test_sets[str(Path(fixtures) / "ucf_crime" / "Anomaly_Test.txt")] = leakage.ids_from_file(
            str(Path(fixtures) / "ucf_crime" / "Anomaly_Test.txt")
        )
    if not train_sources or not test_sets:
        raise ConfigError("check-leakage: give both training sources and test sets (or --root)")
    overlaps = leakage.find_overlaps(train_sources, test_sets)
    print(leakage.report(overlaps, train_sources, test_sets))
    for r, pairs in copies.items():
        example = "  e.g. " + ", ".join(f"{a} = {b}" for a, b in pairs[:3]) if pairs else ""
        print(f"{'LEAK' if pairs else 'ok  '} {len(pairs):4d} training videos of {r} are byte-identical copies of "
              f"its test videos under other names{example}")
    copied = sum(len(p) for p in copies.values())
    print(f"{sum(len(o.videos) for o in overlaps)} leaked test videos in {len(overlaps)} (source, test set) pairs"
          + (f", and {copied} training videos that are copies of test videos" if copies else ""))
    if strict and (overlaps or copied):
        raise SystemExit(1)


from vanguard.annotate.inspect import inspect as _inspect  # noqa: E402  (shard summaries live with annotation)

#: subcommand name -> function (one line each; add new subcommands here)
SUBCOMMANDS = {
    "synthcrime": synthcrime,
    "preview": preview,
    "check-leakage": check_leakage,
    "inspect": _inspect,
}


def main(argv: list[str] | None = None) -> None:
    CLI(SUBCOMMANDS, args=list(sys.argv[1:] if argv is None else argv), as_positional=True)


if __name__ == "__main__":
    main()
