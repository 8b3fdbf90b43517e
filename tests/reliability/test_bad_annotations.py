"""Malformed lines in every real annotation format: each is an AnnotationError naming the file and the line (or,
for JSON / pickle / npy, the file and the video / entry), never a bare ValueError, KeyError or UnicodeDecodeError.

The first good line of each case is a real line from the fixture files, so only the bad line can be the cause.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from vanguard.annotate.records import load_records
from vanguard.answer import Box
from vanguard.data import boxes, shanghaitech, uca, ucf_crime, xd_violence
from vanguard.data.annotations import AnnotationError, VideoAnnotation

UCF_OK = "Abuse028_x264.mp4  Abuse  165  240  -1  -1  \n"
XD_OK = "v=S-7rRLrxnVQ__#1_label_B4-0-0 0 1517\n"
XD_MC_OK = "v=S-7rRLrxnVQ__#1_label_B4-0-0 B4 0 1517 B4 1970 3038\n"
UCA_OK = "Abuse037_x264 00:01.2 00:08.2 ##A white car appeared.\n"
NOT_UTF8 = b"\xff\xfe\xb0 caf\xe9\n"

#: case -> (reader, file name, bytes, regex the error must match: file:line and what is wrong)
CASES = {
    "ucf temporal: too few fields": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + "Abuse030_x264.mp4  Abuse  1\n", r"ann\.txt:2: expected 'video class"),
    "ucf temporal: not a number": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + "Abuse030_x264.mp4  Abuse  12  x  -1  -1\n", r"ann\.txt:2: .*integer"),
    "ucf temporal: reversed interval": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + "Abuse030_x264.mp4  Abuse  240  165  -1  -1\n", r"ann\.txt:2: expected 0 <= start <= end"),
    "ucf temporal: negative start": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + "Abuse030_x264.mp4  Abuse  -5  10  -1  -1\n", r"ann\.txt:2: expected 0 <= start <= end"),
    "ucf temporal: unknown class": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + "Abuse030_x264.mp4  Kidnapping  1  2  -1  -1\n", r"ann\.txt:2: unknown class 'Kidnapping'"),
    "ucf temporal: Normal with interval": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + "Normal_Videos_003_x264.mp4  Normal  1  2  -1  -1\n", r"ann\.txt:2: a Normal video"),
    "ucf temporal: duplicate video": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK + UCF_OK, r"ann\.txt:2: video Abuse028_x264 annotated twice"),
    "ucf temporal: not UTF-8": (ucf_crime.read_temporal_annotation, "ann.txt", UCF_OK.encode() + NOT_UTF8, r"ann\.txt:2: not UTF-8"),
    "ucf split list: not an mp4": (ucf_crime.read_split_list, "Anomaly_Train.txt", "Abuse/Abuse001_x264.mp4\nAbuse/Abuse002_x264.avi\n", r"Anomaly_Train\.txt:2: expected one 'Class/Video\.mp4'"),
    "ucf split list: unknown class": (ucf_crime.read_split_list, "Anomaly_Train.txt", "Abuse/Abuse001_x264.mp4\nPicnic/Picnic001_x264.mp4\n", r"Anomaly_Train\.txt:2: cannot tell the UCF-Crime class"),
    "ucf split list: not UTF-8": (ucf_crime.read_split_list, "Anomaly_Train.txt", b"Abuse/Abuse001_x264.mp4\n" + NOT_UTF8, r"Anomaly_Train\.txt:2: not UTF-8"),
    "uca txt: no ## separator": (uca.read_uca_txt, "UCFCrime_Test.txt", UCA_OK + "Abuse037_x264 00:08.4 00:25.3 The car drove.\n", r"UCFCrime_Test\.txt:2: expected 'Video start end ##sentence'"),
    "uca txt: bad time": (uca.read_uca_txt, "UCFCrime_Test.txt", UCA_OK + "Abuse037_x264 00:08.4 soon ##The car drove.\n", r"UCFCrime_Test\.txt:2: expected times like"),
    "uca txt: reversed times": (uca.read_uca_txt, "UCFCrime_Test.txt", UCA_OK + "Abuse037_x264 00:25.3 00:08.4 ##The car drove.\n", r"UCFCrime_Test\.txt:2: expected 0 <= start <= end"),
    "uca txt: negative time": (uca.read_uca_txt, "UCFCrime_Test.txt", UCA_OK + "Abuse037_x264 -00:02.0 00:08.4 ##The car drove.\n", r"UCFCrime_Test\.txt:2: expected times like"),
    "uca txt: not UTF-8": (uca.read_uca_txt, "UCFCrime_Test.txt", UCA_OK.encode() + NOT_UTF8, r"UCFCrime_Test\.txt:2: not UTF-8"),
    "uca json: not JSON": (uca.read_uca_json, "UCFCrime_Test.json", '{\n  "V1": {"duration": 3.0,\n', r"UCFCrime_Test\.json:\d+: not valid JSON"),
    "uca json: missing keys": (uca.read_uca_json, "UCFCrime_Test.json", '{"V1": {"duration": 3.0, "sentences": ["a"]}}', r"UCFCrime_Test\.json: video 'V1': expected keys duration, timestamps, sentences"),
    "uca json: reversed times": (uca.read_uca_json, "UCFCrime_Test.json", '{"V1": {"duration": 9, "timestamps": [[5, 2]], "sentences": ["a"]}}', r"UCFCrime_Test\.json: video 'V1', segment 0: expected \[start, end\]"),
    "uca json: negative time": (uca.read_uca_json, "UCFCrime_Test.json", '{"V1": {"duration": 9, "timestamps": [[-1, 2]], "sentences": ["a"]}}', r"UCFCrime_Test\.json: video 'V1', segment 0"),
    "uca json: NaN time": (uca.read_uca_json, "UCFCrime_Test.json", '{"V1": {"duration": 9, "timestamps": [[NaN, 2]], "sentences": ["a"]}}', r"UCFCrime_Test\.json: video 'V1', segment 0"),
    "uca json: not a sentence": (uca.read_uca_json, "UCFCrime_Test.json", '{"V1": {"duration": 9, "timestamps": [[0, 2]], "sentences": [7]}}', r"UCFCrime_Test\.json: video 'V1', segment 0"),
    "uca json: duration not a number": (uca.read_uca_json, "UCFCrime_Test.json", '{"V1": {"duration": "9s", "timestamps": [], "sentences": []}}', r"UCFCrime_Test\.json: video 'V1': duration"),
    "uca json: not UTF-8": (uca.read_uca_json, "UCFCrime_Test.json", b'{"V1": \n' + NOT_UTF8, r"UCFCrime_Test\.json:2: not UTF-8"),
    "xd annotations: odd number of frames": (xd_violence.read_annotations, "annotations.txt", XD_OK + "v=b__#1_label_B1-0-0 5\n", r"annotations\.txt:2: expected 'name s1 e1"),
    "xd annotations: unknown code in name": (xd_violence.read_annotations, "annotations.txt", XD_OK + "v=b__#1_label_Z9-0-0 0 10\n", r"annotations\.txt:2: .*unknown XD-Violence code"),
    "xd annotations: no label in name": (xd_violence.read_annotations, "annotations.txt", XD_OK + "v=b__#1 0 10\n", r"annotations\.txt:2: .*no '_label_"),
    "xd annotations: reversed interval": (xd_violence.read_annotations, "annotations.txt", XD_OK + "v=b__#1_label_B1-0-0 10 5\n", r"annotations\.txt:2: expected 0 <= start < end"),
    "xd annotations: negative frame": (xd_violence.read_annotations, "annotations.txt", XD_OK + "v=b__#1_label_B1-0-0 -3 5\n", r"annotations\.txt:2: expected 0 <= start < end"),
    "xd multiclass: unknown class code": (xd_violence.read_annotations, "annotations_multiclasses.txt", XD_MC_OK + "v=b__#1_label_B1-0-0 Q7 0 10\n", r"annotations_multiclasses\.txt:2: unknown class code 'Q7'"),
    "xd multiclass: not a number": (xd_violence.read_annotations, "annotations_multiclasses.txt", XD_MC_OK + "v=b__#1_label_B1-0-0 B1 0 ten\n", r"annotations_multiclasses\.txt:2: expected an integer"),
    "xd annotations: not UTF-8": (xd_violence.read_annotations, "annotations.txt", XD_OK.encode() + NOT_UTF8, r"annotations\.txt:2: not UTF-8"),
    "sht split: bad id": (shanghaitech.read_split, "SH_Test.txt", "01_0014\n01-0015.avi\n", r"SH_Test\.txt:2: expected a video id"),
    "sht split: not UTF-8": (shanghaitech.read_split, "SH_Test.txt", b"01_0014\n" + NOT_UTF8, r"SH_Test\.txt:2: not UTF-8"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_malformed_line_names_file_and_line(case, tmp_path):
    reader, name, content, expected = CASES[case]
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(AnnotationError, match=expected) as err:
        reader(path)
    assert str(path) in str(err.value)


def test_a_bom_is_not_part_of_the_first_video_name(tmp_path):
    path = tmp_path / "ann.txt"
    path.write_bytes(b"\xef\xbb\xbf" + UCF_OK.encode())
    assert [a.video_id for a in ucf_crime.read_temporal_annotation(path)] == ["Abuse028_x264"]


def _npy(path, array, allow_pickle=False):
    np.save(path, array, allow_pickle=allow_pickle)
    return path


@pytest.mark.parametrize("case", ["not npy", "2-D", "values not 0/1", "empty", "object array (pickle inside)"])
def test_bad_shanghaitech_mask_is_an_error_naming_it(case, tmp_path):
    path = tmp_path / "01_0014.npy"
    if case == "not npy":
        path.write_bytes(b"01_0014 0 0 1 1\n")
    elif case == "2-D":
        _npy(path, np.zeros((4, 4), np.uint8))
    elif case == "values not 0/1":
        _npy(path, np.array([0, 1, 2], np.uint8))
    elif case == "empty":
        _npy(path, np.zeros(0, np.uint8))
    else:
        _npy(path, np.array([{"a": 1}, 0], dtype=object), allow_pickle=True)
    with pytest.raises(AnnotationError, match=r"01_0014\.npy"):
        shanghaitech.read_annotation("01_0014", tmp_path)


def test_mask_of_another_length_than_the_video(tmp_path):
    _npy(tmp_path / "01_0014.npy", np.array([0, 1, 1, 0], np.uint8))
    with pytest.raises(AnnotationError, match="mask has 4 frames, the video 10"):
        shanghaitech.read_annotation("01_0014", tmp_path, num_frames=10)


class _Exploit:
    def __reduce__(self):
        return (print, ("pwned",))


BOX_CASES = {
    "not a dict": ([["a/image_1.jpg", 1, 2, 3, 4]], "expected a dict"),
    "entries not a list": ({"Arrest024_x264": "x"}, "video 'Arrest024_x264': expected a list"),
    "short entry": ({"Arrest024_x264": [["a/image_1.jpg", 1, 2]]}, r"entry 0: expected \[image_path"),
    "no frame number": ({"Arrest024_x264": [["a/image.jpg", 1, 2, 30, 40]]}, "entry 0: no frame number"),
    "inverted box": ({"Arrest024_x264": [["a/image_1.jpg", 1, 2, 30, 40], ["a/image_2.jpg", 30, 2, 1, 40]]}, "entry 1: expected x1 < x2"),
    "text coordinates": ({"Arrest024_x264": [["a/image_1.jpg", "1", 2, 30, 40]]}, r"entry 0: expected \[image_path"),
    "a class in the pickle (code execution)": ({"Arrest024_x264": _Exploit()}, "refusing to load builtins.print"),
    "not a pickle": (None, "not a plain-data pickle"),
}


@pytest.mark.parametrize("case", list(BOX_CASES))
def test_bad_box_pickle_is_an_error_naming_file_and_entry(case, tmp_path, capsys):
    data, expected = BOX_CASES[case]
    path = tmp_path / "Test_annotation.pkl"
    path.write_bytes(b"\x00not a pickle" if data is None else pickle.dumps(data, protocol=4))
    with pytest.raises(AnnotationError, match=expected) as err:
        boxes.read_box_annotation(path)
    assert str(path) in str(err.value) and "pwned" not in capsys.readouterr().out


def test_boxes_out_of_the_frame_are_clamped_and_intervals_past_the_end_are_clipped():
    """Liu & Ma boxes can poke out of the frame and the real UR-DMU file has 7 interval ends past the last frame:
    both are kept (clamped / clipped), not refused."""
    rel = boxes.to_relative({5: [(-10, -4, 400, 300)]}, width=320, height=240, label="person")
    (box,) = rel[5]
    assert (box.x1, box.y1, box.x2, box.y2) == (0, 0, 1000, 1000)
    labels = VideoAnnotation("v", "Abuse", [(8, 20)], num_frames=10).frame_labels()
    assert labels.tolist() == [0] * 8 + [1, 1]
    assert Box.from_pixels(5, 5, 5, 5, 320, 240, "x").x2 > Box.from_pixels(5, 5, 5, 5, 320, 240, "x").x1


RECORD = {"video_id": "v", "path": "v.mp4", "split": "train", "category": "Fighting", "dataset": "synthcrime"}
RECORD_CASES = {
    "unknown category": ({"category": "Picnic"}, "unknown category 'Picnic'"),
    "unknown split": ({"split": "dev"}, "split 'dev'"),
    "reversed interval": ({"intervals": [[30, 10]]}, r"interval \(30, 10\)"),
    "negative caption time": ({"captions": [{"start": -2, "end": 1, "sentence": "a"}]}, "caption"),
    "caption without sentence": ({"captions": [{"start": 0, "end": 1}]}, "KeyError"),
    "box out of range": ({"boxes": {"3": [{"bbox_2d": [10, 10, 1200, 50], "label": "p"}]}}, "frame 3: box"),
    "inverted box": ({"boxes": {"3": [{"bbox_2d": [50, 10, 10, 50], "label": "p"}]}}, "frame 3: box"),
}


@pytest.mark.parametrize("case", list(RECORD_CASES))
def test_records_file_entry_errors_name_the_entry(case, tmp_path):
    """The annotation pipeline's records file: a bad entry is refused up front, naming file and entry (an unknown
    category used to pass and turn every subclip of the video into a silently rejected one)."""
    import json

    change, expected = RECORD_CASES[case]
    (tmp_path / "r.json").write_text(json.dumps([RECORD, dict(RECORD, video_id="w", **change)]))
    with pytest.raises(AnnotationError, match=rf"r\.json\[1\]: .*{expected}"):
        load_records(tmp_path / "r.json")
