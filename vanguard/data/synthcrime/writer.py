"""Write the generated world in the real datasets' on-disk formats.

``OUT/synthcrime/`` (UCF-Crime layout, read by ``catalog.load_catalog(..., dataset="synthcrime")``)::

    videos/Fighting/Fighting003_x264.mp4, videos/Testing_Normal_Videos_Anomaly/Normal_Videos_012_x264.mp4,
    videos/Training_Normal_Videos_Anomaly/Normal_Videos012_x264.mp4
    Anomaly_Train.txt  Anomaly_Val.txt (our addition)  Anomaly_Test.txt
    Temporal_Anomaly_Annotation.txt (test, official format)  Temporal_Anomaly_Annotation_{Train,Val}.txt (ours)
    UCFCrime_{Train,Val,Test}.json (UCA captions, every video)
    {Train,Val,Test}_annotation.pkl (Liu & Ma box layout, every anomalous video)

``OUT/xd_violence/``: ``videos/<name>_label_<codes>.mp4``, ``annotations.txt``, ``annotations_multiclasses.txt``.
``OUT/shanghaitech/``: ``videos/<id>.mp4``, ``SH_Train.txt``, ``SH_Test.txt``, ``test_frame_mask/<id>.npy``.
Both zero-shot roots also get ``Test_annotation.pkl`` (boxes in Liu & Ma's layout; our addition, the real
datasets have no boxes). ``OUT/manifest.json`` says what was written: counts per split and category, seconds.
"""

from __future__ import annotations

import multiprocessing
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from vanguard.categories import NORMAL, XD_CODES
from vanguard.data import boxes as box_io
from vanguard.data import shanghaitech, uca, ucf_crime, xd_violence
from vanguard.data.annotations import Caption, VideoAnnotation
from vanguard.data.synthcrime.world import DOMAINS, make_video
from vanguard.io import write_bytes, write_json
from vanguard.video import encode_mp4

SPLIT_FILES = {"train": "Train", "val": "Val", "test": "Test"}
_XD_CODE = {v: k for k, v in XD_CODES.items()}


@dataclass
class Job:
    domain: str
    video_id: str
    path: str  # relative to the domain root
    split: str
    category: str
    seed: tuple[int, ...]
    scene_seed: tuple[int, ...] | None = None
    difficulty: str = "hard"


def _run(job: Job) -> dict:
    """Render, encode and write one video; return its ground truth (runs in a worker process)."""
    v = make_video(
        DOMAINS[job.domain],
        job.category,
        np.random.SeedSequence(job.seed),
        np.random.SeedSequence(job.scene_seed) if job.scene_seed is not None else None,
        difficulty=job.difficulty,
    )
    data = encode_mp4(v.frames, v.fps)
    return {
        "job": job,
        "bytes": data,
        "num_frames": len(v.frames),
        "fps": v.fps,
        "width": v.frames.shape[2],
        "height": v.frames.shape[1],
        "interval": v.interval,
        "boxes": v.boxes,
        "captions": v.captions,
        "scene": v.scene,
    }


def plan(videos: int, zero_shot: int, seed: int) -> list[Job]:
    """Which videos to make: SynthCrime train/val/test (half anomalous, categories in turn) and the two
    zero-shot test domains."""
    jobs: list[Job] = []
    sc = DOMAINS["synthcrime"]
    n_test, n_val = round(0.3 * videos), round(0.1 * videos)
    counters: Counter = Counter()
    for split, n in (("train", videos - n_test - n_val), ("val", n_val), ("test", n_test)):
        for i in range(n):
            cat = NORMAL if i % 2 else sc.categories[(i // 2) % len(sc.categories)]
            key = f"{cat}-{split == 'test'}" if cat == NORMAL else cat
            counters[key] += 1
            k = counters[key]
            if cat == NORMAL:
                vid = f"Normal_Videos_{k:03d}_x264" if split == "test" else f"Normal_Videos{k:03d}_x264"
            else:
                vid = f"{cat}{k:03d}_x264"
            jobs.append(
                Job(
                    "synthcrime",
                    vid,
                    "videos/" + ucf_crime.split_entry(cat, vid, split),
                    split,
                    cat,
                    (seed, 0, len(jobs)),
                )
            )
    xd = DOMAINS["xd_violence"]
    for i in range(zero_shot):
        cat = NORMAL if i % 2 else xd.categories[(i // 2) % len(xd.categories)]
        vid = f"v=SynthXD{seed:02d}{i:04d}__#1_label_{'A' if cat == NORMAL else _XD_CODE[cat] + '-0-0'}"
        jobs.append(Job("xd_violence", vid, f"videos/{vid}.mp4", "test", cat, (seed, 1, i)))
    sht = DOMAINS["shanghaitech"]
    n_cams = 4
    for i in range(zero_shot):
        cat = NORMAL if i % 2 else sht.categories[(i // 2) % len(sht.categories)]
        cam = i % n_cams + 1
        num = i // n_cams + 1
        vid = f"{cam:02d}_{num:03d}" if cat == NORMAL else f"{cam:02d}_{num:04d}"
        split = "train" if i % 5 == 4 else "test"
        jobs.append(Job("shanghaitech", vid, f"videos/{vid}.mp4", split, cat, (seed, 2, i), (seed, 3, cam)))
    return jobs


def generate(out: str | Path, videos: int = 160, zero_shot: int = 40, seed: int = 0, workers: int = 2,
             difficulty: str = "clear") -> dict:
    """Generate SynthCrime (``videos`` videos) and ``zero_shot`` videos in each zero-shot domain under ``out``, of
    one ``difficulty`` (``clear`` or ``hard``, see :mod:`.world`).

    Returns the manifest (also written as ``out/manifest.json``).
    """
    from dataclasses import replace

    from vanguard.data.synthcrime.world import DIFFICULTIES

    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown SynthCrime difficulty {difficulty!r}; expected one of {DIFFICULTIES}")
    out = Path(out)
    jobs = [replace(job, difficulty=difficulty) for job in plan(videos, zero_shot, seed)]
    started = time.time()
    results: list[dict] = []
    ctx = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=max(1, workers), mp_context=ctx) as pool:
        for r in tqdm(pool.map(_run, jobs, chunksize=2), total=len(jobs), desc="synthcrime", unit="video"):
            write_bytes(out / r["job"].domain / r["job"].path, r.pop("bytes"))
            results.append(r)
    by_domain: dict[str, list[dict]] = {}
    for r in results:
        by_domain.setdefault(r["job"].domain, []).append(r)
    manifest = {"seed": seed, "difficulty": difficulty, "domains": {}}
    writers = {"synthcrime": _write_ucf, "xd_violence": _write_xd, "shanghaitech": _write_sht}
    for name, rs in by_domain.items():
        writers[name](out / name, rs)
        manifest["domains"][name] = _counts(rs)
    manifest["seconds"] = round(time.time() - started, 1)
    manifest["videos"] = len(results)
    write_json(out / "manifest.json", manifest)
    return manifest


def _counts(rs: list[dict]) -> dict:
    d = DOMAINS[rs[0]["job"].domain]
    counts: dict = {"resolution": f"{d.width}x{d.height}", "fps": d.fps, "frames": sum(r["num_frames"] for r in rs)}
    for split in ("train", "val", "test"):
        sub = [r for r in rs if r["job"].split == split]
        if sub:
            counts[split] = {
                "videos": len(sub),
                "anomalous": sum(r["job"].category != NORMAL for r in sub),
                "categories": dict(sorted(Counter(r["job"].category for r in sub).items())),
                "anomalous_frames": sum(r["interval"][1] - r["interval"][0] + 1 for r in sub if r["interval"]),
            }
    return counts


def _annotation(r: dict) -> VideoAnnotation:
    j = r["job"]
    return VideoAnnotation(
        j.video_id, j.category, [tuple(r["interval"])] if r["interval"] else [], r["num_frames"], r["fps"]
    )


def _write_ucf(root: Path, rs: list[dict]) -> None:
    for split, tag in SPLIT_FILES.items():
        sub = [r for r in rs if r["job"].split == split]
        sub.sort(key=lambda r: (r["job"].category == NORMAL, r["job"].path))  # anomalous first, as the real lists
        ucf_crime.write_split_list(root / f"Anomaly_{tag}.txt", [r["job"].path.removeprefix("videos/") for r in sub])
        ann_name = "Temporal_Anomaly_Annotation.txt" if split == "test" else f"Temporal_Anomaly_Annotation_{tag}.txt"
        ucf_crime.write_temporal_annotation(root / ann_name, [_annotation(r) for r in sub])
        caps = {r["job"].video_id: [Caption(*c) for c in r["captions"]] for r in sub}
        uca.write_uca_json(
            root / f"UCFCrime_{tag}.json", caps, {r["job"].video_id: r["num_frames"] / r["fps"] for r in sub}
        )
        box_io.write_box_annotation(
            root / f"{tag}_annotation.pkl", {r["job"].video_id: r["boxes"] for r in sub if r["boxes"]}
        )


def _write_xd(root: Path, rs: list[dict]) -> None:
    violent = sorted((r for r in rs if r["interval"]), key=lambda r: r["job"].video_id)
    anns = [_annotation(r) for r in violent]
    xd_violence.write_annotations(root / "annotations.txt", [xd_violence.format_line(a) for a in anns])
    xd_violence.write_annotations(
        root / "annotations_multiclasses.txt", [xd_violence.format_line(a, [_XD_CODE[a.category]]) for a in anns]
    )
    box_io.write_box_annotation(root / "Test_annotation.pkl", {r["job"].video_id: r["boxes"] for r in violent})


def _write_sht(root: Path, rs: list[dict]) -> None:
    for split, name in (("train", "SH_Train.txt"), ("test", "SH_Test.txt")):
        sub = sorted(
            (r for r in rs if r["job"].split == split), key=lambda r: (r["interval"] is None, r["job"].video_id)
        )
        shanghaitech.write_split(root / name, [r["job"].video_id for r in sub])
    box_io.write_box_annotation(root / "Test_annotation.pkl", {r["job"].video_id: r["boxes"] for r in rs if r["boxes"]})
    for r in rs:
        if r["interval"]:
            mask = shanghaitech.intervals_to_mask([r["interval"]], r["num_frames"])
            shanghaitech.write_frame_mask(root / "test_frame_mask" / f"{r['job'].video_id}.npy", mask)
