"""Headless Chromium on the pages VANGUARD writes: which images of a page load, and a screenshot of it.

Pages are opened from disk (``file://``), the way a person opens them; nothing is served and no network is used
(``--disable-background-networking``). Chromium is found as ``chromium``, ``chromium-browser``,
``google-chrome`` or ``$CHROMIUM``; on Debian/Ubuntu ``apt-get install -y chromium``.
"""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from vanguard.errors import ConfigError

NAMES = ("chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--hide-scrollbars",
         "--allow-file-access-from-files")

#: loads the page in an iframe and writes, once it has loaded, each image's src and whether it rendered
_PROBE = """<!doctype html><html><body><iframe id="page" src="{src}" style="width:1200px;height:900px"></iframe>
<script>
document.getElementById("page").onload = function () {{
  var images = Array.from(this.contentDocument.images);
  document.body.setAttribute("data-images", JSON.stringify(images.map(function (i) {{
    return [i.getAttribute("src"), i.complete && i.naturalWidth > 0];
  }})));
}};
</script></body></html>
"""


def find_chromium() -> str | None:
    """The Chromium executable, or None when none is installed."""
    if os.environ.get("CHROMIUM"):
        return os.environ["CHROMIUM"]
    return next((path for path in map(shutil.which, NAMES) if path), None)


def _run(args: list[str], timeout: float) -> str:
    chromium = find_chromium()
    if chromium is None:
        raise ConfigError("headless Chromium not found (apt-get install -y chromium, or set CHROMIUM)")
    with tempfile.TemporaryDirectory(prefix="vanguard-chromium-") as profile:
        done = subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr.strip()[-500:]}")
    return done.stdout


def image_status(page: str | Path, timeout: float = 60.0) -> list[tuple[str, bool]]:
    """``[(src, loaded), ...]`` for every ``<img>`` of a page on disk, as headless Chromium renders it."""
    page = Path(page).resolve()
    with tempfile.TemporaryDirectory(prefix="vanguard-probe-") as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(_PROBE.format(src=html.escape(page.as_uri())), encoding="utf-8")
        dom = _run(["--virtual-time-budget=10000", "--dump-dom", probe.as_uri()], timeout)
    marker = 'data-images="'
    if marker not in dom:
        raise RuntimeError(f"{page}: the page did not load in Chromium")
    raw = dom.split(marker, 1)[1].split('"', 1)[0]
    return [(src, bool(ok)) for src, ok in json.loads(html.unescape(raw))]


def screenshot(page: str | Path, out: str | Path, width: int = 1100, height: int = 1400, timeout: float = 60.0) -> Path:
    """A PNG of a page on disk as headless Chromium renders it (``width`` x ``height`` CSS pixels)."""
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    _run([f"--screenshot={out}", f"--window-size={width},{height}", "--virtual-time-budget=5000",
          Path(page).resolve().as_uri()], timeout)
    if not out.is_file():
        raise RuntimeError(f"chromium wrote no screenshot of {page}")
    return out
