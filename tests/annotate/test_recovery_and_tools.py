"""Restart recovery paths (orphan records, stray temp files), the records file, `data inspect`, the YAML configs."""

from __future__ import annotations

import io
import json
import tarfile
from collections import Counter
from contextlib import redirect_stdout
from pathlib import Path

import pytest

from tests.annotate.helpers import ground_truth, read_samples, run_annotate
from tests.helpers.annotation_videos import WINDOWS
from vanguard.annotate.inspect import inspect
from vanguard.annotate.records import load_records, save_records
from vanguard.data.annotations import AnnotationError

ROOT = Path(__file__).resolve().parents[2]


def test_restart_drops_orphans_and_temp_files_and_redoes_their_videos(tmp_path, records):
    out = tmp_path / "s"
    run_annotate(records, out, WINDOWS, maxcount=3)
    # simulate kills at the two dangerous moments: a shard whose done record was written but whose rename did
    # not happen (orphan record), and a half-written temp shard
    shard = sorted((out / "train").glob("shard-r0-*.tar"))[1]
    lost = {json.loads(m.read_text())["shard"]: json.loads(m.read_text())["videos"]
            for m in (out / "done" / "train").glob("*.json")}[shard.name]
    shard.rename(out / "train" / f".{shard.stem}.tar.tmp")
    (out / "test" / ".shard-r0-000099.tar.tmp").write_bytes(b"half a tar")
    (out / "done" / "test" / ".shard-r0-000099.json.abc.tmp").write_text("{")
    before = {p.name for p in out.rglob("shard-r0-*.tar")}
    stats = run_annotate(records, out, WINDOWS, maxcount=3)
    assert not list(out.rglob(".*.tmp"))
    keys = Counter((split, key) for split, key, *_ in read_samples(out))
    assert keys == Counter(ground_truth(records, WINDOWS).keys())
    new = {p.name for p in out.rglob("shard-r0-*.tar")} - before
    assert new and shard.name not in new  # redone into a new shard, the old name is never reused
    redone = {meta["video_id"] for _, _, meta, _, name in read_samples(out) if name in new}
    assert redone == set(lost)
    assert sum(stats["samples"].values()) == sum(keys.values())


def test_records_file_round_trip_and_errors(tmp_path, records):
    save_records(tmp_path / "r.json", records)
    back = load_records(tmp_path / "r.json")
    assert back == records
    (tmp_path / "bad.json").write_text(json.dumps([{"video_id": "x"}]))
    with pytest.raises(AnnotationError, match=r"bad\.json\[0\]"):
        load_records(tmp_path / "bad.json")


def test_inspect_summarises_validates_and_dumps(tmp_path, records):
    out = tmp_path / "s"
    run_annotate(records, out, WINDOWS)
    bad = out / "test" / "extra.tar"  # one sample that does not follow the schema
    with tarfile.open(bad, "w") as tar:
        for name, data in (("x-0000000.json", b'{"label": 3}'), ("x-0000000.mp4", b"\0")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf = io.StringIO()
    with redirect_stdout(buf):
        summary = inspect(out, dump=2, out=tmp_path / "dump")
    truth = ground_truth(records, WINDOWS)
    for split in ("train", "val", "test"):
        labels = [v for (s, _), v in truth.items() if s == split]
        assert summary["splits"][split]["samples"] == len(labels)
        assert summary["splits"][split]["anomalous"] == sum(labels)
    assert summary["invalid"] == 1 and "missing field" in summary["invalid_examples"][0]
    assert len(summary["dumped"]) == 2
    for key in summary["dumped"]:
        assert (tmp_path / "dump" / f"{key}.png").stat().st_size > 0
        text = (tmp_path / "dump" / f"{key}.txt").read_text()
        assert "reasoning:" in text and "answer:" in text and "(decoded 8)" in text
    assert "1 invalid samples" in buf.getvalue() and summary["manifest"]["teacher"] == "scripted"


@pytest.mark.parametrize("exp", ["synthcrime", "ucf_crime"])
def test_experiment_configs_parse(exp, capsys):
    from vanguard.annotate.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(ROOT / "experiments" / exp / "annotate.yaml"), "--print_config"])
    assert exit_info.value.code == 0
    printed = capsys.readouterr().out
    assert "class_path: vanguard.annotate.teacher." in printed and "strategy:" in printed
