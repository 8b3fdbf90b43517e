"""The text each curriculum stage trains the language model on: the one place that chooses it (docs/stages.md).

A stage declares its ``target`` (:attr:`vanguard.stages.StageBase.target`); the datamodule renders every training
sample's assistant text with :func:`training_text`, in the answer format of :mod:`vanguard.answer`:

- ``none`` (stage 1 ``ClassifierWarmup``, the ``ClassificationFinetune`` ablation): no text; batches are
  prompt-only and there is no language-model loss;
- ``answer`` (stage 2 ``GroundingStage``): the JSON answer, ``{"anomaly", "category", "boxes"}``, as annotation
  stored it in ``meta["answer"]`` (:func:`vanguard.answer.render_answer`);
- ``reasoning`` (stage 3 ``ReasoningStage``, the ``MonolithicStage`` ablation): ``<think>`` the teacher's reasoning
  ``</think>`` followed by the same answer (:func:`vanguard.answer.render_target`); the question then asks the model
  to reason first (:func:`asks_reasoning`), in training and at inference alike.
"""

from __future__ import annotations

from typing import Literal, get_args

from vanguard.answer import render_target
from vanguard.errors import ConfigError
from vanguard.schema import answer_of

Target = Literal["none", "answer", "reasoning"]
TARGETS: tuple[str, ...] = get_args(Target)


def training_text(target: str, meta: dict) -> str | None:
    """The assistant text a stage with ``target`` trains on for one sample's metadata (a shard sample's ``meta``):
    None for ``none``. Raises :class:`vanguard.schema.SchemaError` when the sample's label, category and boxes are
    not a valid answer (``reasoning``), :class:`ConfigError` for an unknown target."""
    if target == "none":
        return None
    if target == "answer":
        return meta["answer"]
    if target == "reasoning":
        return render_target(answer_of(meta), meta["reasoning"])
    raise ConfigError(f"target must be one of {TARGETS}, got {target!r}")


def asks_reasoning(target: str) -> bool:
    """Whether the question asks to reason inside ``<think>`` before answering (:func:`vanguard.prompts.question`)."""
    return target == "reasoning"
