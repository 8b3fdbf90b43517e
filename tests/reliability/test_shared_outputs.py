"""Outputs a team shares: permissions under the umask, annotation output folders that must not mix datasets,
duplicate videos, test videos copied into training under another name, and one-line input errors of the tools
(``annotate``, ``report``, ``data check-leakage`` as real subprocesses)."""

from __future__ import annotations

import json
import os
import shutil
import stat

import pytest

from tests.annotate.helpers import read_samples, run_annotate
from tests.reliability.media import encode
from tests.reliability.stage_runs import one_error_line, vanguard
from vanguard.annotate.cli import Source
from vanguard.annotate.records import save_records
from vanguard.data.annotations import VideoRecord
from vanguard.data.subclips import WindowConfig
from vanguard.errors import ConfigError

WINDOWS = WindowConfig(length=8, stride=8, num_frames=4, min_fraction=0.25)


@pytest.fixture
def umask():
    """Set the process umask for a test, and put the old one back."""
    old = os.umask(0o022)
    yield lambda mask: os.umask(mask)
    os.umask(old)


def _modes(root) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in [root, *sorted(root.rglob("*"))]}


@pytest.mark.parametrize("mask, file_mode, dir_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750), (0o077, 0o600, 0o700)])
def test_atomic_writes_and_exports_follow_the_umask(tmp_path, umask, tiny_backbone_dir, mask, file_mode, dir_mode):
    """tempfile makes 0600 files and 0700 folders; what is renamed into place must look as if written plainly."""
    from vanguard.backbone import Backbone
    from vanguard.checkpoints import export_stage
    from vanguard.io import write_json
    from vanguard.stages import ClassifierWarmup

    umask(mask)
    write_json(tmp_path / "metrics.json", {"auc": 0.5})
    assert stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode) == file_mode
    stage = ClassifierWarmup(Backbone(str(tiny_backbone_dir), num_frames=8, frame_pixels=64 * 64))
    stage.prepare()
    export = export_stage(stage, tmp_path / "export")
    modes = _modes(export)
    assert modes.pop(".") == dir_mode and modes and set(modes.values()) == {file_mode}, modes


def _records(folder, names, split="train", copies=()):
    """One 16-frame video per name (content differs by name: its frame rate), plus ``(new_id, of_id)`` byte
    copies."""
    for name in names:
        if not (folder / f"{name}.mp4").exists():
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{name}.mp4").write_bytes(encode(None, n=16, fps=5.0 + sum(map(ord, name)) % 20))
    for new, of in copies:
        shutil.copyfile(folder / f"{of}.mp4", folder / f"{new}.mp4")
    return [VideoRecord(video_id=n, path=str(folder / f"{n}.mp4"), split=split, category="Normal",
                        dataset="synthcrime", intervals=[]) for n in [*names, *(new for new, _ in copies)]]


def test_annotating_into_another_sources_shards_is_refused(tmp_path):
    out = tmp_path / "shards"
    run_annotate(_records(tmp_path / "a", ["a0", "a1"]), out, WINDOWS)
    before = sorted(p.name for p in out.rglob("*.tar"))
    other = _records(tmp_path / "b", ["b0"])
    save_records(tmp_path / "b.json", other)
    with pytest.raises(ConfigError, match="holds shards of another source"):
        run_annotate(other, out, WINDOWS, source=Source(records_file=tmp_path / "b.json"))
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "train").mkdir()
    (tmp_path / "c" / "train" / "shard-000000.tar").write_bytes(b"")  # shards some other tool wrote
    with pytest.raises(ConfigError, match="no manifest.json describes"):
        run_annotate(_records(tmp_path / "a", ["a0"]), tmp_path / "c", WINDOWS)
    assert sorted(p.name for p in out.rglob("*.tar")) == before


def test_duplicate_videos_are_dropped_and_counted(tmp_path, capsys):
    """The same video listed twice, and a byte-identical copy under another id: one video's samples, once."""
    records = _records(tmp_path / "v", ["v0", "v1"], copies=[("v0_copy", "v0")])
    records.append(records[1])
    out = tmp_path / "shards"
    stats = run_annotate(records, out, WINDOWS)
    printed = capsys.readouterr().out
    assert "dropped 2 duplicate videos: v0_copy (train) is a copy of v0 (train); v1 (train) listed twice" in printed
    assert stats["videos"]["train"] == 2 and stats["samples"]["train"] == 4
    keys = [key for _, key, *_ in read_samples(out)]
    assert len(keys) == len(set(keys)) == 4
    manifest = json.loads((out / "manifest.json").read_text())
    assert len(manifest["duplicates_dropped"]) == 2


def test_test_video_copied_into_training_under_another_id_is_leakage(tmp_path):
    test = _records(tmp_path / "v", ["t0"], split="test")
    train = _records(tmp_path / "v", ["v0"], copies=[("renamed", "t0")])
    with pytest.raises(ConfigError, match=r"1 test videos would go into training shards \(e.g. renamed \(a copy of "
                                          r"test video t0\)\)"):
        run_annotate(train + test, tmp_path / "shards", WINDOWS)
    stats = run_annotate(train + test, tmp_path / "allowed", WINDOWS, allow_test_leakage=True)
    leakage = json.loads((tmp_path / "allowed" / "manifest.json").read_text())["leakage"]
    assert leakage["leaked_videos"] == ["renamed (a copy of test video t0)"] and stats["samples"]["train"] == 4


def _ucf_root(root):
    """A UCF-Crime-layout root whose training video Fighting001 is a byte copy of test video Fighting002."""
    (root / "videos" / "Fighting").mkdir(parents=True)
    encode(root / "videos" / "Fighting" / "Fighting002_x264.mp4", n=8)
    encode(root / "videos" / "Fighting" / "Fighting003_x264.mp4", n=8, fps=7.0)
    shutil.copyfile(root / "videos" / "Fighting" / "Fighting002_x264.mp4",
                    root / "videos" / "Fighting" / "Fighting001_x264.mp4")
    (root / "Anomaly_Train.txt").write_text("Fighting/Fighting001_x264.mp4\nFighting/Fighting003_x264.mp4\n")
    (root / "Anomaly_Test.txt").write_text("Fighting/Fighting002_x264.mp4\n")
    return root


@pytest.mark.slow
def test_tools_input_errors_are_one_line_and_copies_are_leaks(tmp_path):
    """Each bad input ends with exit 2 and one `vanguard <tool>: error:` line naming it; all start together."""
    (tmp_path / "broken.json").write_text("{")
    (tmp_path / "list.json").write_text("[1, 2]")
    (tmp_path / "run" / "predictions").mkdir(parents=True)
    (tmp_path / "run" / "metrics.json").write_text("{")
    (tmp_path / "afile").write_text("")
    root = _ucf_root(tmp_path / "ucf")
    cases = {
        "annotate: root that is not a directory": (["annotate", "--out", "o1", "--source.root", "nowhere"],
                                                   ["nowhere", "not a directory"]),
        "annotate: unknown dataset": (["annotate", "--out", "o2", "--source.root", root, "--source.dataset", "foo"],
                                      ["unknown dataset 'foo'"]),
        "annotate: bad window": (["annotate", "--out", "o3", "--source.root", root, "--windows.num_frames", "1"],
                                 ["num_frames must be at least 2"]),
        "annotate: test video copied into training (catalog)": (
            ["annotate", "--out", "o4", "--source.root", root, "--source.splits", "[train,test]"],
            ["Fighting001_x264 (a copy of test video Fighting002_x264)"]),
        "annotate: out is a file": (["annotate", "--out", "afile/x", "--source.root", root, "--source.splits",
                                     "[train,test]", "--allow_test_leakage", "true"],
                                    ["afile/x", "cannot create the folder"]),
        "report: no run there": (["report", "nowhere"], ["nowhere", "not a directory"]),
        "report: broken metrics.json": (["report", "run"], ["run/metrics.json", "not readable JSON"]),
        "check-leakage: missing file": (["data", "check-leakage", "--train", "nope.txt", "--test", "list.json"],
                                        ["nope.txt", "no such file"]),
        "check-leakage: not JSON": (["data", "check-leakage", "--train", "broken.json", "--test", "list.json"],
                                    ["broken.json", "not a JSON caption file"]),
        "check-leakage: a list, not captions": (["data", "check-leakage", "--train", "list.json", "--test", "list.json"],
                                                ["list.json", "keyed by video name"]),
        "check-leakage: root with no lists": (["data", "check-leakage", "--root", "run"], ["run", "no split files"]),
    }
    procs = {case: vanguard(*argv, cwd=tmp_path, wait=False) for case, (argv, _) in cases.items()}
    leak = vanguard("data", "check-leakage", "--root", root, "--strict", "true", cwd=tmp_path)
    for case, proc in procs.items():
        output = proc.communicate(timeout=300)[0]
        assert proc.returncode == 2, f"{case}: {output[-2000:]}"
        command = cases[case][0][0]
        line = one_error_line(output, command)
        assert all(str(part) in line for part in cases[case][1]), f"{case}: {line}"
    assert not (tmp_path / "nowhere").exists()  # report no longer writes an empty report for a missing run
    assert leak.returncode == 1, leak.stdout[-2000:]
    assert "LEAK    1 training videos of" in leak.stdout and "Fighting001_x264 = Fighting002_x264" in leak.stdout
