"""One decision: the head decides, the constrained answer states that decision (with a box when anomalous), and the
reasoning's repetition controls work inside ``<think>`` only."""

from __future__ import annotations

import pytest
import torch
from transformers import LogitsProcessorList

from tests.test_decoding import MODEL_KEYS, _batch
from vanguard.answer import parse_answer
from vanguard.categories import CATEGORIES, NORMAL
from vanguard.decision import Decision, decide, disagreement, ground_truth_decisions, missing_box
from vanguard.decoding import DONE, AnswerConstraint, AnswerGrammar
from vanguard.metrics.answers import decision_checks
from vanguard.metrics.text import repeats, repetition_rate

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py


def test_decide_uses_the_threshold_and_only_anomaly_categories_when_over_it():
    normal = CATEGORIES.index(NORMAL)
    logits = torch.full((3, len(CATEGORIES)), -5.0)
    logits[:, normal] = 9.0  # the head's Normal logit is the largest everywhere...
    logits[:, CATEGORIES.index("Robbery")] = 1.0
    scores = torch.tensor([0.9, 0.55, 0.2])
    out = decide(torch.logit(scores), logits, threshold=0.6)
    assert [d.anomaly for d in out] == [True, False, False]
    assert [d.category for d in out] == ["Robbery", NORMAL, NORMAL]  # ...but the score decides
    assert decide(torch.logit(scores), logits, threshold=0.5)[1].category == "Robbery"
    assert out[0].score == pytest.approx(0.9)


def test_grammar_forced_decision_has_one_way_through_and_requires_a_box():
    g = AnswerGrammar("none", max_boxes=2, min_boxes=1)
    fight = g.start("Fighting")
    assert g.walk(fight, '{"anomaly": "no"') is None
    assert g.walk(fight, '{"anomaly": "yes", "category": "Robbery"') is None
    assert g.walk(fight, '{"anomaly": "yes", "category": "Fighting", "boxes": []}') is None  # no box: rejected
    ok = '{"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [1, 2, 3, 4], "label": "man"}]}'
    assert g.walk(fight, ok) == DONE
    normal = g.start(NORMAL)
    assert g.walk(normal, '{"anomaly": "no", "category": "Normal", "boxes": []}') == DONE
    assert g.walk(normal, '{"anomaly": "yes"') is None
    free = g.start()
    assert g.walk(free, '{"anomaly": "yes", "category": "Robbery", "boxes": []}') is None
    optional = AnswerGrammar("none")  # min_boxes 0: a dataset without boxes
    assert optional.walk(optional.start(), '{"anomaly": "yes", "category": "Robbery", "boxes": []}') == DONE
    with pytest.raises(ValueError):
        g.start("Picnic")


@pytest.mark.parametrize("think", ["none", "required"])
def test_forced_generation_states_the_heads_decision(tiny_backbone, think):
    tok = tiny_backbone.tokenizer
    decisions = ["Fighting", NORMAL, "Arson", NORMAL, "Explosion"]
    constraint = AnswerConstraint(tok, think=think, max_boxes=2, label_max_chars=12, think_max_tokens=24,
                                  min_boxes=1, no_repeat_ngram_size=3, repetition_penalty=1.3)
    batch = _batch(tiny_backbone, 5, seed=0, reasoning=think != "none")
    inputs = {k: batch[k] for k in MODEL_KEYS}
    torch.manual_seed(0)
    texts = []
    for sample in (False, True):  # greedy, and sampling hot to explore the grammar
        constraint.force(decisions)
        out = tiny_backbone.model.generate(
            **inputs, max_new_tokens=constraint.required_new_tokens(), do_sample=sample, temperature=3.0, top_k=0,
            logits_processor=LogitsProcessorList([constraint]), pad_token_id=tok.pad_token_id)
        texts += tok.batch_decode(out[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
        for row in range(len(decisions)):  # the no-repeat control held inside the reasoning: no token 3-gram twice
            start, n = constraint._think_start[row], constraint._think_tokens[row]
            assert (start is not None) == (think == "required")
            if start is not None:
                ids = out[row, start : start + n].tolist()
                grams = [tuple(ids[i : i + 3]) for i in range(len(ids) - 2)]
                assert n > 3 and len(grams) == len(set(grams)), tok.decode(ids)
    for text, category in zip(texts, decisions * 2, strict=True):
        parsed = parse_answer(text)
        assert parsed.valid, text
        assert parsed.answer.category == category and parsed.answer.anomaly == (category != NORMAL)
        assert not missing_box(parsed.answer)


def test_decision_checks_count_contradictions_and_missing_boxes():
    yes = {"anomaly": "yes", "category": "Fighting", "boxes": [{"bbox_2d": [1, 2, 3, 4], "label": "man"}]}
    records = [
        {"score": 0.9, "decision": True, "pred_category": "Fighting", "pred_answer": yes},
        {"score": 0.9, "decision": True, "pred_category": "Arson", "pred_answer": yes},  # other category
        {"score": 0.1, "decision": False, "pred_category": NORMAL, "pred_answer": yes},  # says yes under threshold
        {"score": 0.9, "decision": True, "pred_category": "Fighting", "pred_answer": {**yes, "boxes": []}},
        {"score": 0.9, "decision": True, "pred_category": "Fighting", "pred_answer": None},  # invalid: not counted
    ]
    assert decision_checks(records) == {"head_disagreements": 2, "anomalous_without_box": 1}
    forced = {"forced_decision": True, "forced_category": "Fighting"}  # answer_decision: ground_truth
    assert decision_checks([{**r, **forced} for r in records[:3]])["head_disagreements"] == 0
    assert decision_checks([{**records[0], "forced_decision": False, "forced_category": NORMAL}]) == {
        "head_disagreements": 1, "anomalous_without_box": 0}
    assert not disagreement(None, Decision(0.9, True, "Fighting"))


def test_repetition_rate_counts_texts_with_a_4gram_more_than_3_times():
    loop = "the man hits the car " * 4  # "the man hits the" occurs 4 times
    three = "the man hits the car " * 3 + "and leaves"
    assert repeats(loop) and not repeats(three) and not repeats("")
    assert repetition_rate([loop, three, None, "  "]) == {"repetition_rate": 0.5, "repetition_texts": 2}


def test_training_targets_follow_the_rule(tiny_backbone, tiny_backbone_dir):
    """With ``require_boxes`` an anomalous training sample without a box teaches no answer text (its LM labels are
    masked; the head still trains on it), and a batch left with no target gives a zero LM loss, not NaN."""
    import numpy as np

    from datamodules.streams import SubclipProcessor
    from vanguard.answer import Answer, render_answer
    from vanguard.processing import IGNORE_INDEX, collate

    frames = np.random.default_rng(0).integers(0, 255, (8, 64, 64, 3), dtype=np.uint8)
    box = {"bbox_2d": [100, 200, 300, 400], "label": "man"}
    meta = {"fps": 8.0, "frame_indices": list(range(8)), "label": 1, "category": "Fighting", "boxes": [],
            "answer": render_answer(Answer(True, "Fighting")), "reasoning": "two men fight"}
    cases = [(True, meta, True), (False, meta, False), (True, {**meta, "boxes": [box]}, False),
             (True, {**meta, "label": 0, "category": NORMAL, "answer": render_answer(Answer(False))}, False)]
    items = []
    for require, sample, masked in cases:
        for target in ("answer", "reasoning"):
            processor = SubclipProcessor(str(tiny_backbone_dir), 64 * 64, 8, target, True, require_boxes=require)
            item = processor.encode_frames(frames, dict(sample))
            assert bool((item["labels"] == IGNORE_INDEX).all()) == masked, (require, sample["boxes"], target)
            items.append(item)
    batch = collate([items[0]], tiny_backbone.tokenizer.pad_token_id)
    _, loss = tiny_backbone.forward(batch)
    assert float(loss.detach()) == 0.0 and loss.requires_grad
    _, loss = tiny_backbone.forward(collate([items[0], items[4]], tiny_backbone.tokenizer.pad_token_id))
    assert float(loss.detach()) > 0.0  # the boxed sample's answer still trains


def test_ground_truth_decisions_state_each_label_and_keep_the_heads_score_and_the_rest():
    head = [Decision(0.2, False, NORMAL), Decision(0.9, True, "Arson"), Decision(0.7, True, "Arson"),
            Decision(0.1, False, NORMAL), Decision(0.6, True, "Robbery")]
    labels = torch.tensor([1, 0, 1, -1, 1])  # -1: no label
    categories = torch.tensor([CATEGORIES.index("Fighting"), CATEGORIES.index(NORMAL), CATEGORIES.index("Explosion"),
                               -1, CATEGORIES.index(NORMAL)])  # the last: anomalous without an anomaly category
    given = ground_truth_decisions(labels, categories, head)
    assert given[:3] == [Decision(0.2, True, "Fighting"), Decision(0.9, False, NORMAL), Decision(0.7, True, "Explosion")]
    assert given[3:] == head[3:]  # the truth names no decision an answer can state: the head's stays
