"""Held-out figures of a pretrained backbone: does its caption name what happens, and do its boxes land?

Measured on clips of videos it never trained on (``vanguard.pretrain.CaptionClips`` of a held-out split):

- ``event_accuracy``: the share of captioning clips whose generated caption names the right event, or "nothing
  unusual" for a normal clip (:func:`vanguard.pretrain_targets.named_event`), with the same share among anomalous
  (``event_recall``) and normal clips (``normal_accuracy``);
- ``grounding_acc_iou50`` / ``mean_iou``: referring grounding, the project's grounding metric
  (:func:`vanguard.metrics.grounding.grounding_metrics`) on the boxes the model writes for each question.
"""

from __future__ import annotations

import numpy as np
import torch

from vanguard.answer import parse_box_list
from vanguard.categories import NORMAL
from vanguard.metrics.grounding import grounding_metrics
from vanguard.pretrain_targets import CAPTION_QUESTION, named_event
from vanguard.processing import collate, normalize_patches


@torch.no_grad()
def generate_texts(model, encoder, items: list[tuple], batch_size: int = 16, max_new_tokens: int = 48) -> list[str]:
    """Greedy answers of an HF Qwen3-VL ``model`` to ``items`` (``CaptionClips`` items), in order."""
    model.eval()
    tokenizer = encoder.tokenizer
    texts: list[str] = []
    for i in range(0, len(items), batch_size):
        encoded = [encoder.encode(frames, fps, idx, question=question, normalize=False)
                   for frames, fps, idx, question, *_ in items[i : i + batch_size]]
        batch = collate(encoded, tokenizer.pad_token_id, padding_side="left")
        inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "mm_token_type_ids", "video_grid_thw")}
        inputs["pixel_values_videos"] = normalize_patches(batch["pixel_values_videos"], encoder.processor, model.dtype)
        out = model.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id)
        texts += tokenizer.batch_decode(out[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    return texts


def heldout_figures(model, encoder, clips, categories: tuple[str, ...] | None = None) -> dict:
    """The figures above for the items of ``clips`` (a held-out ``CaptionClips``)."""
    items = clips.items
    texts = generate_texts(model, encoder, items)
    cats = categories or tuple(sorted({c for *_, c in items if c != NORMAL}))
    right, anomalous, pairs = [], [], []
    for (_, _, _, question, target, _), text in zip(items, texts):
        if question == CAPTION_QUESTION:
            truth = named_event(target, cats)  # the target names the event only when the window shows it
            right.append(named_event(text, cats) == truth)
            anomalous.append(truth != NORMAL)
        else:
            pairs.append((parse_box_list(text), parse_box_list(target)))
    right_a, anomalous_a = np.asarray(right, bool), np.asarray(anomalous, bool)
    ground = grounding_metrics(pairs)
    nan = float("nan")
    return {
        "caption_clips": len(right),
        "event_accuracy": float(right_a.mean()) if len(right_a) else nan,
        "event_recall": float(right_a[anomalous_a].mean()) if anomalous_a.any() else nan,
        "normal_accuracy": float(right_a[~anomalous_a].mean()) if (~anomalous_a).any() else nan,
        "grounding_questions": len(pairs),
        "grounding_acc_iou50": ground["grounding_acc_iou50"],
        "mean_iou": ground["mean_iou"],
        "examples": list(texts[:3]),
    }
