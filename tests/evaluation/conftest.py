"""A tiny SynthCrime-layout test set: a dataset root (split list, temporal GT, source videos) and its test shards
with the ``manifest.json`` the annotation pipeline writes, so callbacks find the source like on a real run."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.helpers.shards import write_test_shards
from vanguard.categories import NORMAL
from vanguard.data.annotations import VideoAnnotation
from vanguard.data.ucf_crime import split_entry, write_split_list, write_temporal_annotation

ANOMALOUS_SPAN = (16, 40)  # inclusive frames of each anomalous video's event (the sources have 48 frames)


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    """One torch thread per test (tests/conftest.py), restored after it: other folders' tests keep their own count."""


@pytest.fixture(scope="session")
def synth_test_set(tmp_path_factory) -> dict:
    """``{"root": dataset root, "shards": shards root, "info": write_test_shards' result}`` (4 test videos)."""
    base = tmp_path_factory.mktemp("evalset")
    root, shards, src = base / "synthcrime", base / "shards", base / "sources"
    info = write_test_shards(shards, n_videos=4, clips_per_video=3, splits=("test",), shards_per_split=1,
                             source_dir=src, width=96, height=64, fps=15.0)
    metas = info["splits"]["test"]["meta"]
    categories = {m["video_id"]: m["category"] for m in metas.values()}
    entries, anns = [], []
    for vid, cat in categories.items():
        entry = split_entry(cat, vid, "test")
        (root / "videos" / entry).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src / f"{vid}.mp4", root / "videos" / entry)
        entries.append(entry)
        anns.append(VideoAnnotation(vid, cat, [] if cat == NORMAL else [ANOMALOUS_SPAN]))
    write_split_list(root / "Anomaly_Test.txt", entries)
    write_temporal_annotation(root / "Temporal_Anomaly_Annotation.txt", anns)
    (shards / "manifest.json").write_text(json.dumps({"source": {"dataset": "synthcrime", "root": str(root)}}))
    return {"root": root, "shards": shards, "info": info, "categories": categories}
