"""Run every speed and memory benchmark (each in its own process) and gather their figures into one table: ``make bench``.

The research probes (``research/``: what SynthCrime lets a model learn, locate or say, on a built demo) are not
run here. Each benchmark runs as a module from the repository root (``python -m benchmarks.<name>``), as this does:

    python -m benchmarks.run_all [--out outputs/bench] [--only NAME ...] [--quick] [--update-docs]

Writes ``<out>/bench.json`` (rows, date, machine, seconds per benchmark) and ``<out>/bench.md`` (the table) and
prints the table. ``--update-docs`` also replaces the table in docs/performance.md (between its bench markers).
Every figure is a ratio measured within ONE benchmark run (the machine may be shared: absolute times move).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import ROOT, fmt_value

#: (name, extra arguments) of each module ``benchmarks.<name>``; ``--work`` is added for those in SHARED_WORK
BENCHMARKS = [
    ("framework_overhead", ["--rounds", "4"]),
    ("feature_cache", []),
    ("data_pipeline", []),
    ("eval_protocol", []),
    ("constrained_decoding", ["--size", "demo"]),
    ("constrained_decoding_vocab", ["--answers", "4"]),
    ("memory", []),
    ("real_model", []),
]
SHARED_WORK = {"framework_overhead", "feature_cache", "memory", "real_model"}
DOC_START, DOC_END = "<!-- bench:start -->", "<!-- bench:end -->"


def run_one(name: str, extra: list[str], work: Path, quick: bool, timeout: int) -> tuple[list[dict], float, str]:
    out_json = work / f"{name}.json"
    cmd = [sys.executable, "-m", f"benchmarks.{name}", "--json", str(out_json), *extra]
    if name in SHARED_WORK:
        cmd += ["--work", str(work / "shared")]
    if quick:
        cmd.append("--quick")
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false",
               HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)
        error = "" if proc.returncode == 0 else f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"
        log = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        error, log = f"timed out after {timeout} s", ""
    seconds = time.perf_counter() - start
    (work / f"{name}.log").write_text(log)
    rows = json.loads(out_json.read_text()) if out_json.exists() and not error else []
    return rows, seconds, error


def table(rows: list[dict]) -> str:
    lines = ["| benchmark | figure | value | target | met | how / notes |", "|---|---|---:|---|---|---|"]
    for r in rows:
        met = "" if r["met"] is None else ("yes" if r["met"] else "**no**")
        metric, note = (r[k].replace("|", "\\|") for k in ("metric", "note"))
        lines.append(f"| {r['bench']} | {metric} | {fmt_value(r)} | {r['target']} | {met} | {note} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="outputs/bench")
    ap.add_argument("--only", nargs="*", default=None, help="benchmark names to run (default: all)")
    ap.add_argument("--quick", action="store_true", help="tiny mode of every benchmark (a smoke run)")
    ap.add_argument("--timeout", type=int, default=300, help="seconds per benchmark")
    ap.add_argument("--update-docs", action="store_true", help="write the table into docs/performance.md")
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="vanguard_bench_"))
    started = time.perf_counter()
    date = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    rows, seconds, errors = [], {}, {}
    for name, extra in BENCHMARKS:
        if a.only and name not in a.only:
            continue
        print(f"[bench] {name} ...", flush=True)
        got, seconds[name], error = run_one(name, extra, work, a.quick, a.timeout)
        if error:
            errors[name] = error
            print(f"[bench] {name} FAILED ({error}); log: {work / (name + '.log')}", flush=True)
        for r in got:
            print(f"[bench]   {r['metric']}: {fmt_value(r)}" + (f" (target {r['target']})" if r["target"] else ""))
        rows += got
    total = time.perf_counter() - started
    machine = (f"{platform.machine()}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the end, "
               f"Python {platform.python_version()}")
    md = (f"Measured {date} on this machine ({machine}); `make bench` took {total:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in seconds.items())}).\n\n{table(rows)}\n")
    if errors:
        md += "\nFailed: " + "; ".join(f"{k}: {v}" for k, v in errors.items()) + "\n"
    (out / "bench.md").write_text(md)
    (out / "bench.json").write_text(json.dumps({"date": date, "machine": machine, "seconds": seconds,
                                                "total_seconds": total, "errors": errors, "rows": rows}, indent=1))
    print()
    print(md)
    missed = [r for r in rows if r["met"] is False]
    print(f"{len(rows)} figures, {sum(r['met'] is True for r in rows)} targets met, {len(missed)} missed"
          + (": " + "; ".join(r["metric"] for r in missed) if missed else "") + f"; logs in {work}")
    if a.update_docs:
        doc = ROOT / "docs" / "performance.md"
        text = doc.read_text()
        head, rest = text.split(DOC_START, 1)
        doc.write_text(f"{head}{DOC_START}\n{md}{DOC_END}{rest.split(DOC_END, 1)[1]}")
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
