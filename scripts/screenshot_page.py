"""Screenshot an explanation page (or any page VANGUARD writes) with headless Chromium, e.g. for the README.

    python scripts/screenshot_page.py outputs/explain/bikes.html docs/images/explanation.png [--width 1100 --height 1400]

Needs Chromium (``apt-get install -y chromium``); the page is opened from disk, nothing is served or fetched.
"""

from __future__ import annotations

import argparse

from vanguard.tools.browser import image_status, screenshot


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", help="the HTML page (e.g. outputs/explain/<video>.html)")
    parser.add_argument("out", help="the PNG to write")
    parser.add_argument("--width", type=int, default=1100, help="viewport width in CSS pixels")
    parser.add_argument("--height", type=int, default=1400, help="viewport height in CSS pixels")
    args = parser.parse_args(argv)
    broken = [src for src, ok in image_status(args.page) if not ok]
    if broken:
        raise SystemExit(f"{args.page}: {len(broken)} image(s) do not load, e.g. {broken[0]}")
    print(screenshot(args.page, args.out, args.width, args.height))


if __name__ == "__main__":
    main()
