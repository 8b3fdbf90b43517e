"""Each research probe runs end to end in its tiny mode (``measure(quick=True)``, on a generated SynthCrime or small
real shards), reports its figures as rows, and computes what it claims on hand-made inputs.

The figures themselves are not asserted where they depend on training noise; what is asserted is that every arm
runs, returns well-formed rows with values in range, and that the features, blobs and vocabularies the probes are
built from are what their docstrings say.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers.bench_rows import run_quick

EXPECTED = {
    "handcrafted_probe": "test subclip ROC-AUC",
    "grounding_probe": "grounding accuracy at IoU 0.5",
    "caption_probe": "test subclip ROC-AUC of the anomaly words",
}




def run(name: str, work) -> list[dict]:
    return run_quick(f"research.{name}", work, EXPECTED[name])


@pytest.mark.parametrize(
    "model, pool, name", [("qwen3vl", "max", "qwen3vl"), ("vision", "max", "vision (max pool)"),
                          ("vision", "mean", "vision (mean pool)"), ("cnn", "max", "cnn")])
def test_learnability_trains_each_arm_on_real_shards(model, pool, name, work):
    from research import learnability

    rows = learnability.measure(quick=True, model=model, pool=pool, work=str(work))
    assert [r["metric"] for r in rows][-1].startswith(f"test subclip ROC-AUC, {name}, best of 2")
    assert all(0.0 <= r["value"] <= 1.0 for r in rows)
    assert "train / " in rows[0]["note"] and "constant predictor" in rows[0]["note"]


def test_learnability_motion_features_are_the_max_and_the_largest_change_at_one_patch_position():
    from research.learnability import local_motion_features

    grid = torch.tensor([[3, 1, 2], [1, 1, 2]])  # a subclip of 3 temporal patches of 2 patches, then one of 1
    first = torch.tensor([[0.0, 1.0], [2.0, -1.0],    # t=0
                          [5.0, 0.0], [1.0, 0.0],     # t=1: changes (5, 1) at patch 0, (1, 1) at patch 1
                          [4.0, 3.0], [0.0, 2.0]])    # t=2: changes (1, 3) at patch 0, (1, 2) at patch 1
    second = torch.tensor([[1.0, 7.0], [6.0, 2.0]])
    feats = local_motion_features(torch.cat([first, second]), grid)
    # the frame-wide maxima change by (3, 1) then (1, 3): the change at patch 0 (5) is what this adds
    torch.testing.assert_close(feats[0], torch.tensor([5.0, 3.0, 5.0, 3.0]))
    torch.testing.assert_close(feats[1], torch.tensor([6.0, 7.0, 0.0, 0.0]))  # one temporal patch: no change


def test_learnability_constant_loss_is_the_best_constant():
    from research.learnability import constant_loss

    labels = np.array([1] * 20 + [0] * 80)
    grid = np.linspace(0.01, 0.99, 9801)
    brute = -(4.0 * 0.2 * np.log(grid) + 0.8 * np.log(1 - grid))
    assert constant_loss(labels, 4.0) == pytest.approx(brute.min(), abs=1e-6)
    assert constant_loss(labels, 4.0) == pytest.approx(1.6 * np.log(2), abs=1e-9)  # balanced weights: q = 0.5


def test_learnability_per_category_compares_each_category_with_the_normal_subclips():
    from research.learnability import per_category

    labels = np.array([0] * 6 + [1] * 5 + [1] * 5 + [1] * 2)
    categories = ["Normal"] * 6 + ["Explosion"] * 5 + ["Fighting"] * 5 + ["Arson"] * 2
    scores = torch.tensor([0.1, 0.2, 0.3, 0.4, 0.5, 0.6] + [0.9] * 5 + [0.15, 0.25, 0.35, 0.45, 0.55] + [1.0] * 2)
    rows = {r["metric"].rsplit(", ", 1)[1]: r for r in per_category(scores, labels, categories, "x")}
    assert set(rows) == {"Explosion vs normal", "Fighting vs normal"}  # Arson: too few subclips
    assert rows["Explosion vs normal"]["value"] == pytest.approx(1.0)
    assert rows["Fighting vs normal"]["value"] == pytest.approx(15 / 30)  # each interleaves with the normals
    assert rows["Fighting vs normal"]["note"] == "5 anomalous vs 6 normal subclips"


@pytest.mark.parametrize("pool", ["max", "mean", "temporal", "motion"])
def test_learnability_vision_arm_pools_each_subclip_on_its_own(pool, work):
    """The vision arm splits the tower's concatenated patch states by each subclip's grid: a subclip's logit is the
    same in a batch as alone, and a batch of subclips gives one logit each."""
    from benchmarks.common import DEMO_FRAMES, DEMO_PIXELS, real_shards, tiny_backbone
    from datamodules.streams import SubclipProcessor
    from research import learnability

    backbone = tiny_backbone(work, "unit")
    processor = SubclipProcessor(backbone, DEMO_PIXELS, DEMO_FRAMES, "none", with_target=False)
    items, labels, _ = learnability.load_split(processor, real_shards(work, n_videos=4, clips=2), "train", encode=True)
    assert len(items) == 8 and set(labels.tolist()) <= {0, 1}
    torch.manual_seed(0)
    net = learnability.VisionTowerClassifier(backbone, DEMO_FRAMES, DEMO_PIXELS, pool).eval()
    with torch.no_grad():
        together = net(items[:3])
        alone = torch.cat([net([item]) for item in items[:3]])
    assert together.shape == (3,)
    torch.testing.assert_close(together, alone, rtol=1e-4, atol=1e-5)
    assert not torch.allclose(together[0], together[1:])  # different subclips, different logits
    with pytest.raises(ValueError, match="pool must be"):
        learnability.VisionTowerClassifier(backbone, DEMO_FRAMES, DEMO_PIXELS, "sum")


def test_handcrafted_probe_reports_both_arms_on_a_generated_synthcrime(work):
    rows = {r["metric"]: r for r in run("handcrafted_probe", work)}
    arms = {"own subclip": 75, "video-relative": 150, "video-relative + 4 neighbours": 750}
    for arm, features in arms.items():
        assert 0.0 <= rows[f"test subclip ROC-AUC, {arm}"]["value"] <= 1.0
        assert 0.0 <= rows[f"frame-level ROC-AUC, {arm}"]["value"] <= 1.0
        assert 0.0 <= rows[f"frame-level AP, {arm}"]["value"] <= 1.0
        f1, best_f1 = rows[f"frame-level F1 at 0.5, {arm}"]["value"], rows[f"frame-level best F1, {arm}"]["value"]
        assert 0.0 <= f1 <= best_f1 + 1e-9 and best_f1 <= 1.0  # 0.5 is one of the thresholds the best is taken over
        assert f"{features} features" in rows[f"test subclip ROC-AUC, {arm}"]["note"]
        assert "at least 4 subclips from either end" in rows[f"test subclip ROC-AUC, {arm}, interior"]["note"]
    per_category = [m for m in rows if m.endswith(" vs normal")]
    assert per_category and all("anomalous vs" in rows[m]["note"] for m in per_category)


def test_handcrafted_probe_features_see_what_differs_from_the_background():
    from research.handcrafted_probe import video_relative, window_features

    rng = np.random.default_rng(0)
    background = rng.integers(60, 120, (24, 32, 3)).astype(np.float32)
    still = np.repeat(background[None].astype(np.uint8), 6, axis=0)
    quiet = window_features(still, background)
    assert quiet.shape == (75,) and not quiet.any()  # nothing moved, nothing differs, no fire, no flash
    flashed = still.copy()
    flashed[3, 8:16, 8:16] = 255  # one white 8x8 flash on one frame
    loud = window_features(flashed, background)
    # per statistic: 12 numbers (the cell mean / std / max over the frames, each as top 1, top 3, top 10, all cells)
    foreground, fire, flash = loud[0:12], loud[24:36], loud[36:48]
    assert foreground[0] == pytest.approx(1 / 6)  # the flash cell is foreground on 1 of the 6 frames
    assert foreground[8] == 1.0 and flash[8] == 1.0  # ... wholly, on that frame
    assert not fire.any()  # white is not a fire colour
    assert loud[-2] == 0 and loud[-1] == 0  # the first and the last frame are the background: nothing appeared
    feats = np.stack([quiet, loud, loud])
    relative = video_relative(feats)
    assert relative.shape == (3, 150)
    np.testing.assert_array_equal(relative[:, :75], feats)
    np.testing.assert_allclose(relative[1:, 75:], 0)  # the video's median subclip is the flashed one
    np.testing.assert_allclose(relative[0, 75:], quiet - loud)
    # with one neighbour each side: the previous and the next subclip, minus the median; the ends repeat themselves
    with_context = video_relative(feats, context=1)
    assert with_context.shape == (3, 300)
    np.testing.assert_allclose(with_context[0, 150:225], quiet - loud)  # no subclip before the first: itself
    np.testing.assert_allclose(with_context[0, 225:], 0)  # the next one is the (median) flashed subclip
    np.testing.assert_allclose(with_context[1, 150:225], quiet - loud)  # the second's previous is the quiet one
    np.testing.assert_allclose(with_context[2, 225:], 0)


def test_handcrafted_probe_interior_leaves_out_the_subclips_near_either_end():
    from research.handcrafted_probe import interior

    videos = [(None, None, np.zeros(5), None), (None, None, np.zeros(2), None)]
    assert interior(videos, 1).tolist() == [False, True, True, True, False, False, False]
    assert interior(videos, 0).all()


def test_grounding_probe_reports_every_arm_on_a_generated_synthcrime(work):
    rows = {r["metric"]: r["value"] for r in run("grounding_probe", work)}
    acc = [rows[f"grounding accuracy at IoU 0.5, {arm}"] for arm in ("largest blob", "3 largest blobs", "every blob")]
    assert all(0.0 <= a <= 1.0 for a in acc)
    assert acc[0] <= acc[1] <= acc[2]  # more candidate boxes can only hit more ground-truth boxes
    assert 0.0 <= rows["grounding accuracy at IoU 0.5, blobs touching the ground truth, merged"] <= 1.0
    assert 0 < rows["ground-truth box, median width on the 0..1000 grid"] <= 1000


def test_grounding_probe_boxes_what_differs_from_the_background():
    from research.grounding_probe import arms_of_subclip, foreground_blobs
    from vanguard.answer import Box

    rng = np.random.default_rng(0)
    background = rng.integers(60, 120, (60, 80, 3)).astype(np.uint8)
    frames = np.repeat(background[None], 9, axis=0)
    frames[4, 10:30, 20:30] = 250  # a 10x20 person, the event ...
    frames[4, 40:46, 60:72] = 0  # ... and a 12x6 bystander elsewhere
    blobs = foreground_blobs(frames[4], background.astype(np.float32))
    assert [box for _, box in blobs] == [(20, 10, 30, 30), (60, 40, 72, 46)]  # pixels, largest first
    assert [area for area, _ in blobs] == [200 - 4, 72 - 4]  # the opening rounds off each rectangle's 4 corners
    assert foreground_blobs(frames[0], background.astype(np.float32)) == []  # the background itself: nothing
    event = Box.from_pixels(20, 10, 30, 30, 80, 60, "person")
    arms = arms_of_subclip(frames, 4, [event])
    assert arms["largest blob"] == [Box.from_pixels(20, 10, 30, 30, 80, 60, "object")]
    assert len(arms["3 largest blobs"]) == len(arms["every blob"]) == 2
    assert arms["blobs touching the ground truth, merged"] == arms["largest blob"]  # the bystander is left out
    assert arms_of_subclip(frames, 0, [event])["blobs touching the ground truth, merged"] == []


def test_caption_probe_reports_what_the_backbone_writes_on_a_generated_synthcrime(work):
    rows = {r["metric"]: r for r in run("caption_probe", work)}
    assert "32 test subclips" in rows["distinct captions"]["note"]
    assert 1 <= rows["distinct first sentences"]["value"] <= rows["distinct captions"]["value"] <= 32
    for metric in ("anomalous subclips whose caption holds an anomaly word",
                   "normal subclips whose caption holds an anomaly word",
                   "test subclip ROC-AUC of the anomaly words in the model's caption"):
        assert 0.0 <= rows[metric]["value"] <= 1.0
    # the windows' own captions name what happens: the vocabulary read from the train split tells the labels apart
    assert rows["test subclip ROC-AUC of the anomaly words in the reference caption"]["value"] > 0.75


def test_caption_probe_vocabulary_is_what_only_anomalous_windows_are_told_with():
    from types import SimpleNamespace

    from research.caption_probe import anomaly_vocabulary
    from vanguard.data.subclips import WindowConfig

    def caption(start, end, sentence):
        return SimpleNamespace(start=start, end=end, sentence=sentence)

    config = WindowConfig(length=10, stride=10, num_frames=5, min_fraction=0.5)
    fight = SimpleNamespace(category="Fighting", num_frames=30, fps=10.0, intervals=[(10, 19)], boxes={}, captions=[
        caption(0.0, 1.0, "A man walks along the street."),            # frames 0-9: a normal window
        caption(1.0, 2.0, "The man punches a woman on the street."),   # frames 10-19: the anomalous window
        caption(2.0, 3.0, "The man runs away.")])                      # frames 20-29: normal again
    normal = SimpleNamespace(category="Normal", num_frames=30, fps=10.0, intervals=[], boxes={}, captions=[
        caption(0.0, 3.0, "A woman walks along the street, then runs.")])
    # the reference caption is what pretraining trains on (vanguard.pretrain_targets.what_happens): the anomalous
    # window says "A fight: they exchange blows."; 'a' is told of the normal video too, and the normal windows'
    # "Nothing unusual happens. ..." captions are not anomalous windows' words
    assert anomaly_vocabulary([fight, normal], config) == {"fight", "they", "exchange", "blows"}
