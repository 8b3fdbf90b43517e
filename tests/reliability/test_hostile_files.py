"""Hostile files: shards whose member names or video ids try to escape, checkpoints and annotation files carrying
pickled code, a backbone folder that ships its own Python, model text carrying markup. Nothing is written outside
the folder a command was given, nothing read is executed, model text stays text."""

from __future__ import annotations

import io
import json
import pickle
import re
import tarfile
from pathlib import Path

import pytest
import torch

from datamodules import SubclipDataModule
from tests.conftest import ROOT
from tests.helpers.shards import _meta, write_test_shards
from tests.reliability.media import encode
from vanguard.annotate.inspect import inspect
from vanguard.checkpoints import load_checkpoint
from vanguard.schema import SchemaError, decode, sample_key, validate

torch.set_num_threads(1)


class Exploit:
    """Unpickling this touches ``marker``: the proof that a loader ran code from a file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


@pytest.fixture
def hostile_shards(tmp_path):
    """Val shards: 6 good samples, then members named ``../../..``, absolute paths, a symlink and a hard link out
    of the folder, and a sample whose (consistent) key and video_id are ``../`` paths."""
    root = tmp_path / "work" / "shards"
    data = write_test_shards(root, n_videos=2, clips_per_video=3, splits=("val",), shards_per_split=1)
    mp4 = encode(None, n=8, width=96, height=64)
    evil_meta = _meta("../../evil", "val", list(range(0, 16, 2)), 15.0, 96, 64, "Normal", (0, 0, 1, 1))
    evil_key = sample_key("../../evil", 0)  # '__/__/evil-0000000': webdataset would take the dirs as part of it
    with tarfile.open(root / "val" / "shard-000099.tar", "w") as tar:
        for name in ("../../escape-0000000", str(tmp_path / "abs-0000000"), evil_key):
            _add(tar, f"{name}.json", json.dumps(evil_meta).encode())
            _add(tar, f"{name}.mp4", mp4)
        for kind, name in ((tarfile.SYMTYPE, "link-0000000.json"), (tarfile.LNKTYPE, "hard-0000000.json")):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "/etc/passwd"
            tar.addfile(info)
    return data, tmp_path


def test_shard_member_names_cannot_escape_reading_or_inspect(hostile_shards, tiny_backbone_dir, monkeypatch, capsys):
    data, tmp = hostile_shards
    root = data["root"]
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.chdir(root)  # a relative '../..' would land in tmp/ if anything wrote it
    before = _files(tmp)
    dm = SubclipDataModule(str(root), str(tiny_backbone_dir), frame_pixels=64 * 64, num_frames=4, batch_size=2,
                           num_workers=0, target="answer", max_skip_fraction=0.5, min_samples_before_skip_check=100)
    keys = [m["key"] for b in dm.val_dataloader() for m in b["meta"]]
    assert sorted(keys) == sorted(data["splits"]["val"]["keys"])  # the 6 good samples, nothing else
    assert dm.skip_counts["val"]["skipped"] == 3  # the three hostile samples, counted
    out = tmp / "work" / "dump"
    summary = inspect(root, dump=100, out=out)
    assert summary["invalid"] == 3 and len(summary["dumped"]) == 6
    assert _files(tmp) - before == {out, *out.iterdir()}  # only the dump folder and files directly in it
    assert {p.name for p in out.iterdir()} == {f"{k}.{ext}" for k in data["splits"]["val"]["keys"] for ext in ("png", "txt")}
    assert not (tmp / "escape-0000000.png").exists() and not (tmp / "evil-0000000.png").exists()


def test_a_video_id_that_is_a_path_is_refused_everywhere_it_names_a_file(tmp_path):
    from vanguard.report.predictions import VideoPredictions, write_video_predictions
    from vanguard.report.render import render_video_page

    for vid in ("../../evil", "a/b", "..", "x\\..\\y"):
        meta = _meta(vid, "val", [0, 2], 15.0, 96, 64, "Normal", (0, 0, 1, 1))
        with pytest.raises(SchemaError, match="plain name"):
            validate(meta)
        with pytest.raises(ValueError, match="not a plain file name"):
            write_video_predictions(tmp_path / "run", VideoPredictions(vid, 10.0, 20, 96, 64))
        with pytest.raises(ValueError, match="not a plain file name"):
            render_video_page(VideoPredictions(vid, 10.0, 20, 96, 64), tmp_path / "pages")
    assert not list(tmp_path.rglob("*.json")) and not list(tmp_path.rglob("*.html"))
    ok = _meta("v=City.of.God__#01_label_A", "val", [0, 2], 15.0, 96, 64, "Normal", (0, 0, 1, 1))
    assert validate(ok)  # real XD-Violence names (dots, '#', '=') are plain names


def test_checkpoint_carrying_a_pickled_object_is_refused(tmp_path):
    """Our loader and Lightning's own (``--ckpt_path``: torch's default ``weights_only=True``) both refuse it."""
    from lightning.fabric.utilities.cloud_io import _load

    marker = tmp_path / "pwned"
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(2)}, "global_step": 3, "evil": Exploit(marker)}, path)
    with pytest.raises(pickle.UnpicklingError, match="Weights only load failed"):
        load_checkpoint(path)
    with pytest.raises(pickle.UnpicklingError):
        _load(str(path))  # what Trainer.fit(ckpt_path=...) calls (weights_only=None)
    assert not marker.exists()
    torch.save({"state_dict": {"w": torch.zeros(2)}, "global_step": 3}, path)
    assert load_checkpoint(path)["global_step"] == 3  # a plain checkpoint still loads


def test_every_load_in_the_code_is_safe():
    """torch.load only with weights_only=True; pickle only through the plain-data unpickler; numpy never with
    allow_pickle=True; no eval/exec/yaml.load/shell on read data."""
    unsafe = {
        r"torch\.load\((?![^)]*weights_only=True)": "torch.load without weights_only=True",
        r"pickle\.loads?\(": "pickle.load (use vanguard.data.boxes.safe_load_pickle)",
        r"allow_pickle\s*=\s*True": "np.load(allow_pickle=True)",
        r"yaml\.load\((?![^)]*SafeLoader)": "yaml.load without SafeLoader",
        r"(?<![\w.])(eval|exec)\(": "eval/exec",
        r"shell\s*=\s*True": "subprocess with shell=True",
        r"\.extractall\(": "tarfile.extractall",
    }
    hits = []
    for folder in ("vanguard", "datamodules", "callbacks", "benchmarks", "research"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            for pattern, what in unsafe.items():
                for m in re.finditer(pattern, text):
                    hits.append(f"{path.relative_to(ROOT)}:{text.count(chr(10), 0, m.start()) + 1}: {what}")
    assert not hits, hits


def test_box_pickle_with_code_is_refused_without_running_it(tmp_path):
    from vanguard.data.annotations import AnnotationError
    from vanguard.data.boxes import read_box_annotation

    marker = tmp_path / "pwned"
    path = tmp_path / "Test_annotation.pkl"
    path.write_bytes(pickle.dumps({"Arrest024_x264": [Exploit(marker)]}))
    with pytest.raises(AnnotationError, match="refusing to load"):
        read_box_annotation(path)
    assert not marker.exists()


def test_backbone_folder_shipping_code_is_not_run(tiny_backbone_dir, tmp_path):
    """A model folder whose config maps the model to its own ``modeling.py`` (``auto_map``): loaded with the
    built-in Qwen3-VL classes (trust_remote_code is never on), the folder's code never runs."""
    import shutil

    from vanguard.backbone import Backbone

    folder = tmp_path / "backbone"
    shutil.copytree(tiny_backbone_dir, folder)
    marker = tmp_path / "pwned"
    (folder / "evil.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nclass Evil: pass\n")
    for name, key in (("config.json", "AutoModelForImageTextToText"), ("processor_config.json", "AutoProcessor")):
        cfg = json.loads((folder / name).read_text())
        cfg["auto_map"] = {key: "evil.Evil", "AutoConfig": "evil.Evil"}
        (folder / name).write_text(json.dumps(cfg))
    backbone = Backbone(str(folder), num_frames=8, frame_pixels=64 * 64)
    assert type(backbone.model).__name__ == "Qwen3VLForConditionalGeneration" and not marker.exists()


def test_model_text_with_markup_stays_text_in_html():
    """The full page test is tests/report/test_report.py::test_video_page_escapes_model_text; this is the rule."""
    from vanguard.report.render import Block, to_html

    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    page = to_html([Block("pre", evil), Block("table", rows=[["a"], [evil]]), Block("img", evil, src="x.png")], evil)
    assert "<script" not in page and "<img src=x" not in page and page.count("&lt;script&gt;") == 5  # title, pre, cell, alt, caption


def test_shard_json_that_is_not_utf8_or_huge_is_refused():
    from vanguard.schema import MAX_MP4_BYTES

    with pytest.raises(SchemaError, match="json does not parse"):
        decode({"__key__": "x-0000000", "json": b"\xff\xfe{", "mp4": b"\0"})
    with pytest.raises(SchemaError, match="too large"):
        decode({"__key__": "x-0000000", "json": b"{}", "mp4": b"\0" * (MAX_MP4_BYTES + 1)})
