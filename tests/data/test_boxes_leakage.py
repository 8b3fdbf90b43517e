"""Box files (restricted unpickling) and the train/test leakage check on the real UCA/UCF-Crime splits."""

from __future__ import annotations

import os
import pickle

import pytest

from vanguard.data import boxes, leakage
from vanguard.data.annotations import AnnotationError


def test_box_file_roundtrip(tmp_path):
    path = tmp_path / "Test_annotation.pkl"
    boxes.write_box_annotation(
        path, {"Fighting001_x264": {12: [(10, 20, 30, 60)], 13: [(11, 20, 31, 60), (50, 5, 70, 40)]}}
    )
    raw = boxes.safe_load_pickle(path)
    assert raw["Fighting001_x264"][0] == ["Fighting001_x264/image_0012.jpg", 10, 20, 30, 60]
    back = boxes.read_box_annotation(path)
    assert back["Fighting001_x264"][13] == [(11, 20, 31, 60), (50, 5, 70, 40)]
    rel = boxes.to_relative(back["Fighting001_x264"], 160, 120, "Fighting")
    assert rel[12][0].as_json()["bbox_2d"] == [62, 167, 188, 500]


def test_liu_ma_layout_frame_numbers(tmp_path):
    path = tmp_path / "b.pkl"
    path.write_bytes(
        pickle.dumps({"Arrest024_x264": [["/data/Arrest024_x264/image_2668.jpg", 1, 77, 261, 154]]}, protocol=2)
    )
    assert boxes.read_box_annotation(path) == {"Arrest024_x264": {2668: [(1.0, 77.0, 261.0, 154.0)]}}


class _Evil:
    def __reduce__(self):
        return (os.system, ("touch /tmp/vanguard_pwned_by_pickle",))


def test_box_reader_refuses_code(tmp_path):
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps({"v": [_Evil()]}))
    with pytest.raises(AnnotationError, match="refusing to load"):
        boxes.read_box_annotation(path)
    assert not os.path.exists("/tmp/vanguard_pwned_by_pickle")
    path.write_bytes(pickle.dumps({"v": [["v/image_1.jpg", 1, 2, 3]]}))
    with pytest.raises(AnnotationError, match=r"entry 0: expected \[image_path"):
        boxes.read_box_annotation(path)


def test_uca_train_contains_214_ucf_test_videos(fixtures_dir):
    csv = fixtures_dir / "uca" / "uca_split_vs_ucfcrime_split.csv"
    uca_train = leakage.ids_from_file(f"{csv}::uca_split=Train")
    ucf_test = leakage.ids_from_file(str(fixtures_dir / "ucf_crime" / "Anomaly_Test.txt"))
    assert len(ucf_test) == 290
    overlap = leakage.check_no_test_videos(uca_train, ucf_test)
    assert len(overlap) == 214 and "Abuse028_x264" in overlap
    train_only = leakage.ids_from_file(f"{csv}::ucfcrime_split=train")
    assert leakage.check_no_test_videos(train_only, ucf_test) == []
    found = leakage.find_overlaps({"uca": uca_train, "ucf-train": train_only}, {"ucf-test": ucf_test})
    assert [(o.train_source, len(o.videos)) for o in found] == [("uca", 214)]


def test_check_leakage_cli_default_reports_uca_overlap(fixtures_dir, capsys):
    from vanguard.tools.data_cli import main

    main(["check-leakage", "--fixtures", str(fixtures_dir)])
    out = capsys.readouterr().out
    assert "LEAK  214 of  290" in out
    with pytest.raises(SystemExit):
        main(["check-leakage", "--fixtures", str(fixtures_dir), "--strict", "true"])
