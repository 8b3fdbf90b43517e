"""SynthCrime end to end: generate a small set with the CLI, read it back with the dataset readers, check it."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from vanguard.categories import NORMAL, box_object
from vanguard.data import catalog, shanghaitech, ucf_crime, xd_violence
from vanguard.data.synthcrime.world import SYNTHCRIME, make_video
from vanguard.data.synthcrime.writer import Job, _run
from vanguard.video import decode_clip

pytestmark = pytest.mark.slow  # one generation (~100 small videos) shared by the module


@pytest.fixture(scope="module", params=["clear", "hard"])
def world(request, tmp_path_factory):
    from vanguard.tools.data_cli import main

    out = tmp_path_factory.mktemp(f"synthcrime_{request.param}")
    main(["synthcrime", str(out), "--videos", "80", "--zero_shot", "8", "--seed", "0", "--difficulty", request.param])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["difficulty"] == request.param
    return out, manifest


def test_counts_agree_with_manifest(world):
    out, manifest = world
    sc = manifest["domains"]["synthcrime"]
    for split in ("train", "val", "test"):
        recs = catalog.load_catalog(out / "synthcrime", dataset="synthcrime", split=split)
        assert len(recs) == sc[split]["videos"]
        assert sum(r.anomalous for r in recs) == sc[split]["anomalous"]
        assert sum(sum(e - s + 1 for s, e in r.intervals) for r in recs) == sc[split]["anomalous_frames"]
    assert len(catalog.load_catalog(out / "synthcrime", dataset="synthcrime", split="all")) == 80
    xd = catalog.load_catalog(out / "xd_violence", dataset="xd_violence", split="test")
    assert len(xd) == manifest["domains"]["xd_violence"]["test"]["videos"] == 8
    assert sum(r.anomalous for r in xd) == manifest["domains"]["xd_violence"]["test"]["anomalous"]
    sht = catalog.load_catalog(out / "shanghaitech", dataset="shanghaitech", split="all")
    assert len(sht) == 8 and sum(r.anomalous for r in sht) == 4


def test_synthcrime_records_are_complete(world):
    out, _ = world
    recs = catalog.load_catalog(out / "synthcrime", dataset="synthcrime", split="all")
    cats = set()
    for r in recs:
        assert r.fps == 12 and r.width == 160 and r.height == 120 and r.num_frames >= 140
        assert r.intervals is not None and r.captions, r.video_id
        assert all(c.sentence.endswith(".") and 0 <= c.start <= c.end <= r.num_frames / r.fps for c in r.captions)
        if not r.anomalous:
            assert r.intervals == [] and not r.boxes
            continue
        cats.add(r.category)
        ((s, e),) = r.intervals
        n = e - s + 1
        assert 0.15 * r.num_frames <= n <= 0.45 * r.num_frames, (r.video_id, n, r.num_frames)
        assert sorted(r.boxes) == list(range(s, e + 1)), r.video_id  # a box list on every anomalous frame
        for frame_boxes in r.boxes.values():
            assert frame_boxes
            union = [
                min(b.x1 for b in frame_boxes),
                min(b.y1 for b in frame_boxes),
                max(b.x2 for b in frame_boxes),
                max(b.y2 for b in frame_boxes),
            ]
            area = sum((b.x2 - b.x1) * (b.y2 - b.y1) for b in frame_boxes) / 1e6
            assert area <= 0.25 and all(b.label == box_object(r.category) for b in frame_boxes)
            assert 0 <= union[0] < union[2] <= 1000 and 0 <= union[1] < union[3] <= 1000
    assert cats == set(SYNTHCRIME.categories)
    assert len(cats) >= 6


def test_files_follow_the_real_formats(world):
    out, _ = world
    root = out / "synthcrime"
    test_list = ucf_crime.read_split_list(root / "Anomaly_Test.txt")
    train_list = ucf_crime.read_split_list(root / "Anomaly_Train.txt")
    assert any(re.fullmatch(r"Fighting/Fighting\d{3}_x264\.mp4", e) for e in test_list + train_list)
    assert all(
        re.fullmatch(r"Testing_Normal_Videos_Anomaly/Normal_Videos_\d{3}_x264\.mp4", e)
        for e in test_list
        if "Normal" in e
    )
    assert all(
        re.fullmatch(r"Training_Normal_Videos_Anomaly/Normal_Videos\d{3}_x264\.mp4", e)
        for e in train_list
        if "Normal" in e
    )
    line = (root / "Temporal_Anomaly_Annotation.txt").read_text().splitlines()[0]
    assert re.fullmatch(r"\w+_x264\.mp4  \w+  \d+  \d+  -1  -1  ", line)
    uca = json.loads((root / "UCFCrime_Test.json").read_text())
    assert set(uca) == {ucf_crime.video_id(e) for e in test_list}
    assert all(set(v) == {"duration", "timestamps", "sentences"} for v in uca.values())
    xd_names = [p.name for p in (out / "xd_violence" / "videos").glob("*.mp4")]
    assert all(xd_violence.label_codes(n) for n in xd_names)
    assert sum("_label_A" in n for n in xd_names) == 4
    assert not (out / "xd_violence" / "annotations.txt").read_text().endswith("\n")
    for r in catalog.load_catalog(out / "shanghaitech", dataset="shanghaitech", split="all"):
        if r.anomalous:
            mask = shanghaitech.read_frame_mask(out / "shanghaitech" / "test_frame_mask" / f"{r.video_id}.npy")
            assert len(mask) == r.num_frames and shanghaitech.is_anomalous_id(r.video_id)
        else:
            assert not shanghaitech.is_anomalous_id(r.video_id)


def test_domains_differ(world):
    out, _ = world
    xd = catalog.load_catalog(out / "xd_violence", dataset="xd_violence")[0]
    sht = catalog.load_catalog(out / "shanghaitech", dataset="shanghaitech", split="test")[0]
    assert (xd.width, xd.height, xd.fps) == (192, 108, 24)
    assert (sht.width, sht.height, sht.fps) == (176, 112, 15)
    assert decode_clip(xd.path, [0]).shape == (1, 108, 192, 3)


def _frame_auc(labels, values):
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(labels, values)
    return max(auc, 1 - auc)


def test_single_frame_statistics_do_not_separate(world):
    """Mean brightness, frame-difference energy and the number of moving blobs of one frame say little about the
    label (ROC-AUC below 0.75 whichever way round), so the world is not solvable from trivial statistics."""
    from scipy import ndimage

    out, _ = world
    labels, bright, energy, blobs = [], [], [], []
    for r in catalog.load_catalog(out / "synthcrime", dataset="synthcrime", split="test"):
        grey = decode_clip(r.path).astype(np.float32).mean(-1)
        diff = np.abs(np.diff(grey, axis=0, prepend=grey[:1]))
        lab = np.zeros(len(grey), np.uint8)
        for s, e in r.intervals:
            lab[s : e + 1] = 1
        labels += list(lab)
        bright += list(grey.mean((1, 2)))
        energy += list((diff**2).mean((1, 2)))
        blobs += [ndimage.label(ndimage.binary_opening(d > 25))[1] for d in diff]
    labels = np.asarray(labels)
    assert 0.05 < labels.mean() < 0.4
    for name, values in (("brightness", bright), ("difference energy", energy), ("moving blobs", blobs)):
        assert _frame_auc(labels, values) < 0.75, name


def test_deterministic_per_seed():
    job = Job("synthcrime", "Fighting001_x264", "videos/Fighting/Fighting001_x264.mp4", "test", "Fighting", (7, 0, 3))
    a, b = _run(job), _run(job)
    assert a["bytes"] == b["bytes"] and a["interval"] == b["interval"] and a["boxes"] == b["boxes"]
    assert a["captions"] == b["captions"]
    other = make_video(SYNTHCRIME, "Fighting", np.random.SeedSequence((8, 0, 3)))
    assert other.frames.shape != decode_clip(a["bytes"]).shape or other.interval != a["interval"]


def test_generating_twice_writes_the_same_bytes(tmp_path):
    """Deterministic per seed down to the mp4 bytes, worker pool included. The ShanghaiTech-style videos are the
    ones x264 used to vary (see ``vanguard.video.encode_mp4``): before the fix, two runs of this differed in 3 of 6
    attempts; with it, in none of 8."""
    from vanguard.data.synthcrime.writer import generate

    runs = []
    for name in ("a", "b"):
        generate(tmp_path / name, videos=4, zero_shot=40, seed=3, workers=2)
        files = sorted(p for p in (tmp_path / name).rglob("*") if p.is_file() and p.name != "manifest.json")
        runs.append({p.relative_to(tmp_path / name).as_posix(): p.read_bytes() for p in files})
    assert sum(k.endswith(".mp4") for k in runs[0]) == 4 + 2 * 40
    assert runs[0].keys() == runs[1].keys()
    assert [k for k in runs[0] if runs[0][k] != runs[1][k]] == []


def test_hard_world_is_the_world_from_before_the_setting():
    """``hard`` keeps the bytes of every seed (sha256 of two videos written by 30b7a0a, before difficulties)."""
    import hashlib

    before = {"Robbery": "621d61de120653f540891113baf6cd6a56dd72c5ad02a674eb67ac3584e9c173",
              "Normal": "d723353ff6378ee1cf08d1bf80eac8beb141e468648db321fb7075291a80160f"}
    for category, digest in before.items():
        r = _run(Job("synthcrime", "X", "videos/x.mp4", "test", category, (7, 0, 3), difficulty="hard"))
        assert hashlib.sha256(r["bytes"]).hexdigest() == digest, category


def test_clear_world_has_no_look_alikes_and_starts_events_where_they_show():
    """``clear``: no look-alike normal behaviour (their captions never appear), no jogger, and arson's interval starts
    with its flames, not with the crouch before them."""
    lookalike_words = ("meet", "crouches down next to it", "stops to look", "stops on the road", "jogs")
    for i in range(14):
        cat = NORMAL if i % 2 else SYNTHCRIME.categories[(i // 2) % 7]
        clear = make_video(SYNTHCRIME, cat, np.random.SeedSequence((12, i)), difficulty="clear")
        text = " ".join(c[2] for c in clear.captions)
        assert not any(w in text for w in lookalike_words if not (cat == "Arson" and w.startswith("crouches"))), text
    arson_hard = make_video(SYNTHCRIME, "Arson", np.random.SeedSequence((12, 0)), difficulty="hard")
    arson_clear = make_video(SYNTHCRIME, "Arson", np.random.SeedSequence((12, 0)), difficulty="clear")
    assert arson_clear.interval[0] == arson_hard.interval[0] + int(round(0.7 * SYNTHCRIME.fps))
    assert arson_clear.interval[1] == arson_hard.interval[1]
    assert all(any(b for b in arson_clear.boxes[t]) for t in range(arson_clear.interval[0], arson_clear.interval[1] + 1))
    with pytest.raises(ValueError, match="difficulty"):
        make_video(SYNTHCRIME, NORMAL, np.random.SeedSequence(0), difficulty="easy")


def test_normal_and_anomalous_videos_have_as_many_agents():
    people = {True: [], False: []}
    for i in range(24):
        cat = NORMAL if i % 2 else SYNTHCRIME.categories[(i // 2) % 7]
        v = make_video(SYNTHCRIME, cat, np.random.SeedSequence((11, i)))
        people[cat != NORMAL].append(v.people)
    assert abs(np.mean(people[True]) - np.mean(people[False])) <= 1.5


def test_shanghaitech_cameras_are_fixed():
    from vanguard.data.synthcrime.world import SHT_STYLE

    cam = np.random.SeedSequence((0, 3, 2))
    videos = [
        make_video(SHT_STYLE, c, np.random.SeedSequence((0, 2, i)), cam)
        for i, c in enumerate(["Fighting", NORMAL, "Arson"])
    ]
    assert len({v.scene for v in videos}) == 1
    # same background: the median frame of each video is close to the others' (people and lighting aside)
    medians = [np.median(v.frames[::10].astype(np.float32), 0) for v in videos]
    shape_only = [m / m.mean() for m in medians]
    assert np.abs(shape_only[0] - shape_only[1]).mean() < 0.08
