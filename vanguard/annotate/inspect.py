"""``python -m vanguard data inspect SHARDS``: summarise annotated shards and dump samples as pictures + text.

Every sample is read back through :func:`vanguard.schema.decode` (the same validation as on write), so the
summary also counts invalid samples, with the first reasons.
"""

from __future__ import annotations

import json
import tarfile
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

from vanguard.schema import SPLITS, SchemaError, decode


def shard_paths(shards: Path) -> list[Path]:
    """The ``.tar`` files of a shard root, a split folder, or one shard (temp files left out)."""
    shards = Path(shards)
    if shards.is_file():
        return [shards]
    if not shards.is_dir():
        raise FileNotFoundError(f"no shards at {shards}")
    return sorted(p for p in shards.rglob("*.tar") if not p.name.startswith("."))


def iter_raw_samples(path: Path) -> Iterator[dict]:
    """Raw WebDataset samples (``__key__`` + bytes per extension) of one tar, in order."""
    current: dict = {}
    with tarfile.open(path, "r") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = Path(member.name).name
            key, _, ext = name.partition(".")
            if current and current["__key__"] != key:
                yield current
                current = {}
            current.setdefault("__key__", key)
            current[ext] = tar.extractfile(member).read()
    if current:
        yield current


def _draw(meta: dict, mp4: bytes, target: Path) -> int:
    """Save the subclip's frames as one strip with the keyframe's boxes drawn; returns the decoded frame count."""
    import numpy as np
    from PIL import Image, ImageDraw

    from vanguard.answer import Box
    from vanguard.video import decode_clip

    frames = decode_clip(mp4)
    tiles = [Image.fromarray(f) for f in frames]
    key = tiles[min(meta["keyframe"], len(tiles) - 1)]
    draw = ImageDraw.Draw(key)
    for b in meta["boxes"]:
        x1, y1, x2, y2 = Box(*b["bbox_2d"], label=b.get("label", "")).to_pixels(key.width, key.height)
        draw.rectangle([x1, y1, x2, y2], outline=(255, 40, 40), width=2)
        draw.text((x1 + 2, y1 + 1), b.get("label", ""), fill=(255, 255, 0))
    w, h = tiles[0].size
    strip = Image.new("RGB", (w * len(tiles), h))
    for i, tile in enumerate(tiles):
        strip.paste(tile, (i * w, 0))
    strip.save(target)
    return int(np.asarray(frames).shape[0])


def inspect(shards: Path, dump: int = 0, out: Path | None = None) -> dict:
    """Summarise annotated shards: samples per split, labels, categories, boxes, teachers; validate every sample.

    Args:
        shards: a shard root (``<root>/{train,val,test}/*.tar``), one split folder, or one ``.tar``.
        dump: write this many samples (the first ones) as a PNG strip of their frames, boxes drawn on the
            keyframe, and a ``.txt`` with their captions, reasoning and answer.
        out: folder for the dumped samples (default: ``inspect/`` beside the shards).
    """
    shards = Path(shards)
    paths = shard_paths(shards)
    per_split: dict = defaultdict(lambda: {"shards": set(), "samples": 0, "anomalous": 0, "categories": Counter(),
                                           "boxes": 0, "frames": Counter(), "teachers": Counter()})
    invalid: list[str] = []
    dumped: list[str] = []
    out = Path(out) if out is not None else (shards if shards.is_dir() else shards.parent) / "inspect"
    for path in paths:
        for raw in iter_raw_samples(path):
            try:
                key, meta, mp4 = decode(raw)
            except SchemaError as err:
                invalid.append(f"{path.name}: {err}")
                continue
            s = per_split[meta["split"]]
            s["shards"].add(str(path))
            s["samples"] += 1
            s["anomalous"] += meta["label"]
            s["categories"][meta["category"]] += 1
            s["boxes"] += len(meta["boxes"])
            s["frames"][len(meta["frame_indices"])] += 1
            s["teachers"][f"{meta['teacher']} + {meta['grounder']}"] += 1
            if len(dumped) < dump:
                out.mkdir(parents=True, exist_ok=True)
                n = _draw(meta, mp4, out / f"{key}.png")
                text = [f"key: {key}  split: {meta['split']}  frames: {meta['frame_indices']} (decoded {n})",
                        f"label: {meta['label']}  category: {meta['category']}  boxes: {meta['boxes']}", "cues:"]
                text += [f"  [{c['start']:.1f}-{c['end']:.1f} s] {c['sentence']}" for c in meta["cues"]]
                text += [f"reasoning: {meta['reasoning']}", f"answer: {meta['answer']}"]
                (out / f"{key}.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
                dumped.append(key)
    summary = {"shards": len(paths), "invalid": len(invalid), "invalid_examples": invalid[:5], "dumped": dumped,
               "splits": {}}
    for split in sorted(per_split, key=lambda x: (SPLITS.index(x) if x in SPLITS else len(SPLITS), x)):
        s = per_split[split]
        summary["splits"][split] = {
            "shards": len(s["shards"]), "samples": s["samples"], "anomalous": s["anomalous"],
            "anomalous_fraction": round(s["anomalous"] / s["samples"], 4) if s["samples"] else 0.0,
            "categories": dict(sorted(s["categories"].items())),
            "boxes_per_sample": round(s["boxes"] / s["samples"], 3) if s["samples"] else 0.0,
            "frames_per_sample": dict(s["frames"]), "teacher + grounder": dict(s["teachers"]),
        }
    root = shards if shards.is_dir() else shards.parent
    for name in ("manifest.json", "stats.json"):
        if (root / name).is_file():
            summary[name.removesuffix(".json")] = json.loads((root / name).read_text(encoding="utf-8"))
    _print(summary, out if dumped else None)
    return summary


def _print(summary: dict, out: Path | None) -> None:
    print(f"{summary['shards']} shards, {summary['invalid']} invalid samples")
    for split, s in summary["splits"].items():
        cats = ", ".join(f"{k} {v}" for k, v in s["categories"].items())
        print(f"  {split:<5} {s['samples']:>6} samples in {s['shards']} shards, anomalous {s['anomalous_fraction']:.1%}, "
              f"{s['boxes_per_sample']} boxes/sample; {cats}")
    for line in summary["invalid_examples"]:
        print(f"  invalid: {line}")
    if "stats" in summary and summary["stats"].get("rejected_total"):
        print(f"  rejected by the teacher: {summary['stats']['rejected_total']}")
    if "manifest" in summary:
        m = summary["manifest"]
        print(f"  teacher {m.get('teacher')}, grounder {m.get('grounder')}, complete: {m.get('complete')}, "
              f"test leakage allowed: {m.get('leakage', {}).get('allow_test_leakage')}")
    if out is not None:
        print(f"  dumped {len(summary['dumped'])} samples to {out}")
