"""Preview pictures: frames of one video per category with their ground-truth boxes drawn, as a PNG grid."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vanguard.categories import NORMAL
from vanguard.data.annotations import VideoRecord
from vanguard.data.catalog import load_catalog
from vanguard.video import decode_clip


def pick_examples(records: list[VideoRecord], per_category: int = 1) -> list[VideoRecord]:
    """The first ``per_category`` anomalous videos of each category (with boxes when any has them), then normals."""
    chosen: dict[str, list[VideoRecord]] = {}
    for rec in sorted(records, key=lambda r: (r.category == NORMAL, r.category, not r.boxes, r.video_id)):
        group = chosen.setdefault(rec.category, [])
        if len(group) < per_category:
            group.append(rec)
    normals = chosen.pop(NORMAL, [])
    return [r for cat in sorted(chosen) for r in chosen[cat]] + normals


def _frames_to_show(rec: VideoRecord, n: int) -> list[int]:
    if rec.intervals:
        s, e = rec.intervals[0]
        return [int(round(v)) for v in np.linspace(s, e, n + 2)[1:-1]]
    return [int(round(v)) for v in np.linspace(0, (rec.num_frames or 1) - 1, n + 2)[1:-1]]


def render_row(rec: VideoRecord, n: int = 3, zoom: int = 2) -> Image.Image:
    """``n`` frames of one video side by side, boxes in green, the category and frame number written on top."""
    idx = _frames_to_show(rec, n)
    frames = decode_clip(rec.path, idx)
    tiles = []
    for t, frame in zip(idx, frames):
        h, w = frame.shape[:2]
        img = Image.fromarray(frame).resize((w * zoom, h * zoom), Image.NEAREST)
        draw = ImageDraw.Draw(img)
        for box in (rec.boxes or {}).get(t, []):
            x1, y1, x2, y2 = (v * zoom for v in box.to_pixels(w, h))
            draw.rectangle([x1, y1, x2, y2], outline=(0, 255, 0), width=2)
        draw.rectangle([0, h * zoom - 12, w * zoom, h * zoom], fill=(0, 0, 0))
        draw.text((3, h * zoom - 12), f"{rec.category}  {rec.video_id}  frame {t}", fill=(255, 255, 255))
        tiles.append(img)
    row = Image.new("RGB", (sum(t.width for t in tiles) + 2 * (len(tiles) - 1), tiles[0].height), (255, 255, 255))
    x = 0
    for tile in tiles:
        row.paste(tile, (x, 0))
        x += tile.width + 2
    return row


def write_preview(
    root: str | os.PathLike,
    out: str | os.PathLike,
    dataset: str = "synthcrime",
    split: str = "all",
    per_category: int = 1,
    frames: int = 3,
    zoom: int = 2,
    colors: int = 0,
) -> Path:
    """Write a PNG grid (one row per example video) for a dataset root; returns the PNG path.

    ``colors`` > 0 quantizes to that many colours (a much smaller file, e.g. for documentation)."""
    records = load_catalog(root, dataset=dataset, split=split)
    rows = [render_row(r, frames, zoom) for r in pick_examples(records, per_category)]
    if not rows:
        raise ValueError(f"{root}: no videos to preview")
    grid = Image.new(
        "RGB", (max(r.width for r in rows), sum(r.height for r in rows) + 2 * (len(rows) - 1)), (255, 255, 255)
    )
    y = 0
    for r in rows:
        grid.paste(r, (0, y))
        y += r.height + 2
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if colors:
        grid = grid.quantize(colors=colors, method=Image.Quantize.MEDIANCUT)
    tmp = out.with_name(f".{out.name}.tmp.png")
    grid.save(tmp, optimize=True)
    os.replace(tmp, out)
    return out
