"""StageBase: the LightningModule every curriculum stage derives from.

It holds the injected :class:`vanguard.backbone.Backbone` and a :class:`ClassificationHead` (anomaly logit and
category logits on the backbone's pooled features). A subclass only declares its objective through class
attributes (``target``, ``uses_lora``, ``freeze_backbone``) and loss weights; the rest is shared:

- training: one ``Backbone.forward`` gives the features AND the LM loss of the target (labels present when
  ``target != "none"``); losses are logged per objective (``train/loss_cls``, ``train/loss_category``,
  ``train/loss_lm``).
- validation / test: prompt-only, left-padded batches -> features -> head -> anomaly score (sigmoid) and category;
  stages with a text target also generate answers for a configurable number of batches, parse them with
  :func:`vanguard.answer.parse_answer` and count invalid answers and grounding hits.
- test: per-subclip records (score, ``video_id``, ``frame_indices``, keyframe, GT boxes, frame size, fps, teacher
  reasoning, and the generated text with its parse) go to ``self.test_records`` (gathered from all ranks at epoch
  end) and to ``subclip_scores.json`` in the trainer's log dir; ``callbacks.FrameLevelEvaluation`` turns them into
  frame-level metrics at test end.
- checkpoints hold only trainable weights (+ optimizer state): frozen keys are pruned in ``on_save_checkpoint``
  and ``strict_loading`` is off; the frozen base comes from the backbone directory.

Freezing and LoRA injection happen in :meth:`prepare`, which ``callbacks.Curriculum`` calls in ``setup`` (before
DDP wraps the model and before the optimizer exists). Without the callback, :meth:`setup` prepares with defaults.

docs/stages.md writes each stage's objective as a formula: losses, training text and masked tokens, what is frozen
and what is handed on.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from lightning.pytorch import LightningModule
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAUROC, BinaryAveragePrecision, BinaryF1Score, MulticlassAccuracy

from vanguard.adapters import has_lora, inject_lora, lora_config
from vanguard.answer import parse_answer
from vanguard.backbone import Backbone
from vanguard.categories import CATEGORIES
from vanguard.decision import Decision, decide, forced_categories, ground_truth_decisions
from vanguard.errors import ConfigError, NonFiniteLossError
from vanguard.stages.batching import batch_size, select_samples
from vanguard.stages.evaluation import GenerationMetrics
from vanguard.stages.heads import ClassificationHead, HeadOutput
from vanguard.targets import Target


def sample_record_fields(meta: dict) -> dict:
    """What evaluation and the predictions files need from a test sample's metadata beyond its score."""
    return {
        "keyframe": meta["frame_indices"][meta.get("keyframe", -1)],
        "gt_boxes": meta.get("boxes", []),
        "width": meta.get("width"),
        "height": meta.get("height"),
        "fps": meta.get("fps"),
        "reasoning": meta.get("reasoning"),
    }


class StageBase(LightningModule):
    """Shared Backbone + classification head; subclasses declare the objective.

    Args:
        backbone: the shared :class:`vanguard.backbone.Backbone` (injected by the config).
        lr_head: learning rate of the classification head.
        lr_lora: learning rate of the LoRA adapters.
        lr_backbone: learning rate of trainable backbone weights that are not LoRA (the vision tower with
            ``freeze_vision: false``, the final norm with ``train_final_norm: true``); None: ``lr_lora``. A norm's
            weight is a scale that Adam moves by about one learning rate per step: at a LoRA rate it barely moves.
        weight_decay: AdamW weight decay on matrices (biases and norms get none).
        cls_weight: weight of the anomaly loss (BCE on the anomaly logit).
        category_weight: weight of the category loss (cross-entropy over CATEGORIES, Normal included).
        lm_weight: weight of the language-model loss on the target text (ignored when ``target == "none"``).
        warmup_steps: linear learning-rate warmup, in optimizer steps.
        lr_schedule: after warmup, ``constant`` or ``cosine`` decay to 0 at ``trainer.max_steps``.
        head_hidden: hidden width of the head (0: linear). Must match the ``init_from`` head.
        head_dropout: dropout in the head.
        metric_thresholds: ``None`` keeps every validation score, so ROC-AUC/AP are exact; subclip-level
            validation sets are small (thousands of floats). An int bins scores (constant memory) for huge sets.
        generate_val_batches: validation batches per epoch for which answers are generated (-1: all, 0: none).
        generate_test_batches: the same for test (-1: all).
        generate_predict: whether ``predict`` generates answers (False: anomaly scores and the head's category only,
            e.g. for zero-shot AUC/AP, which need no text and run several times faster).
        generate_normal: whether ``predict`` also generates for subclips the head decides are normal (False: text
            only where it is needed, for the flagged subclips the explanation's events are made of).
        max_new_tokens: generation budget per answer.
        constrained: constrain decoding to the answer grammar (``vanguard.decoding.AnswerConstraint``);
            ``--model.init_args.constrained false`` generates freely (to measure how often that goes wrong).
        iou_threshold: IoU for a ground-truth box to count as found (grounding accuracy).
        pos_weight: weight of anomalous samples in the anomaly loss; about (normal / anomalous) subclips makes a
            score of 0.5 the balanced decision point, which F1 at 0.5 depends on (anomalies are rare).
        max_boxes: most boxes a constrained answer may hold.
        threshold: the anomaly decision: a subclip is anomalous when its score (sigmoid of the head's anomaly logit)
            is at least this; then its category is the head's most likely anomaly category, else Normal. The
            constrained answer is forced to this decision (one decision: score, category and text agree); F1 and
            the events of an explanation use it; exports and metrics.json record it.
        require_boxes: an anomalous constrained answer holds at least one box (on for datasets with boxes; a
            dataset without boxes turns it off).
        repetition_penalty: HF's repetition penalty on the generated reasoning (1.0: off). With ``constrained`` it
            applies to the text inside ``<think>`` only; without, to the whole generation (HF's own behaviour).
        no_repeat_ngram_size: HF's no-repeat n-gram size on the generated reasoning (0: off), scoped the same way.
        answer_decision: whose decision and category the constrained answer states when validating and testing:
            ``head`` (the one decision, the head's) or ``ground_truth`` (each sample's true label and category,
            Normal for a normal sample), so the language model writes only the boxes and the reasoning: grounding
            accuracy with the decision given, the boxes alone. For measuring grounding only: anomaly scores, F1, the
            test records' decisions and events stay the head's, and the one-decision checks
            (``head_disagreement_rate``, metrics.json's ``head_disagreements``) compare each answer with the decision
            it was forced to. Needs ``constrained``. Ignored by ``predict``, which has no ground truth: its answers
            always state the head's decision.
    """

    #: what the training batches must carry as the assistant's text: "none" | "answer" | "reasoning"
    target: ClassVar[Target] = "none"
    #: whether the stage trains LoRA adapters on the language model
    uses_lora: ClassVar[bool] = False
    #: whether the whole backbone is frozen (then it runs under ``torch.no_grad`` and in eval mode)
    freeze_backbone: ClassVar[bool] = False
    #: the stages whose export ``fit`` may start from (``init_from``), besides the stage's own
    starts_from: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        backbone: Backbone,
        lr_head: float = 1e-3,
        lr_lora: float = 2e-4,
        lr_backbone: float | None = None,
        weight_decay: float = 0.01,
        cls_weight: float = 1.0,
        category_weight: float = 0.5,
        lm_weight: float = 1.0,
        warmup_steps: int = 0,
        lr_schedule: Literal["constant", "cosine"] = "constant",
        head_hidden: int = 256,
        head_dropout: float = 0.1,
        metric_thresholds: int | None = None,
        generate_val_batches: int = 2,
        generate_test_batches: int = -1,
        generate_predict: bool = True,
        max_new_tokens: int = 256,
        constrained: bool = True,
        iou_threshold: float = 0.5,
        pos_weight: float = 1.0,
        max_boxes: int = 4,
        threshold: float = 0.5,
        require_boxes: bool = True,
        repetition_penalty: float = 1.0,
        no_repeat_ngram_size: int = 0,
        generate_normal: bool = False,
        answer_decision: Literal["head", "ground_truth"] = "head",
    ):
        super().__init__()
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"threshold must be in (0, 1), got {threshold}")
        if answer_decision == "ground_truth" and not constrained:
            raise ConfigError("answer_decision 'ground_truth' forces the answer's decision through the constrained "
                              "decoder: it needs constrained true")
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = backbone
        self.head = ClassificationHead(backbone.feature_size, hidden=head_hidden, dropout=head_dropout)
        self.strict_loading = False  # checkpoints hold only the trainable weights
        self.prepared = False
        #: backbone weights an earlier stage trained, loaded from ``init_from`` (exports pass them on)
        self.inherited_backbone_keys: set[str] = set()
        self.test_records: list[dict] = []
        for split in ("val", "test"):
            scores = MetricCollection(
                {
                    "auroc": BinaryAUROC(thresholds=metric_thresholds),
                    "ap": BinaryAveragePrecision(thresholds=metric_thresholds),
                    "f1": BinaryF1Score(threshold=threshold),
                },
                prefix=f"{split}/",
            )
            setattr(self, f"{split}_scores", scores)
            setattr(self, f"{split}_category", MulticlassAccuracy(num_classes=len(CATEGORIES), average="micro"))
            setattr(self, f"{split}_generation", GenerationMetrics(iou_threshold=iou_threshold))

    # ---- objective ---------------------------------------------------------------------------------------------
    @property
    def has_lm_objective(self) -> bool:
        return self.target != "none" and self.hparams.lm_weight > 0

    def describe(self) -> str:
        """One line: the stage's objective (for logs)."""
        losses = [f"cls x{self.hparams.cls_weight}", f"category x{self.hparams.category_weight}"]
        if self.has_lm_objective:
            losses.append(f"lm({self.target}) x{self.hparams.lm_weight}")
        backbone = "frozen" if self.freeze_backbone else ("LoRA" if self.uses_lora else "trainable")
        return f"{type(self).__name__}: target={self.target}, backbone {backbone}, losses {' + '.join(losses)}"

    # ---- freezing / LoRA (called by callbacks.Curriculum in setup) ---------------------------------------------
    def prepare(self, lora=None, freeze_vision: bool = True, train_final_norm: bool = False) -> None:
        """Freeze what the stage freezes, inject LoRA if the stage uses it (unless an adapter was already loaded),
        re-enable the head. ``lora``: a peft ``LoraConfig`` (default: ``vanguard.adapters.lora_config()``).
        ``train_final_norm``: also train the language model's final RMSNorm weight (see ``callbacks.Curriculum``).
        Trainable backbone weights are kept in float32 (master weights under bf16 autocast)."""
        model = self.backbone.model
        if self.uses_lora and not self.freeze_backbone and not has_lora(model):
            inject_lora(model, lora if lora is not None else lora_config())
        train_lora = self.uses_lora and not self.freeze_backbone
        for name, param in model.named_parameters():
            param.requires_grad_(train_lora and "lora_" in name)
        if not freeze_vision and not self.freeze_backbone:
            self.backbone.vision_tower.requires_grad_(True)
        if train_final_norm and not self.freeze_backbone:
            self.backbone.language_model.norm.requires_grad_(True)
        for param in model.parameters():
            if param.requires_grad and param.dtype != torch.float32:
                param.data = param.data.float()
        self.head.requires_grad_(True)
        self.prepared = True
        self.train()  # Lightning keeps each module's mode; from_pretrained left the HF model in eval mode

    def setup(self, stage: str) -> None:
        if not self.prepared:
            warnings.warn(
                f"{type(self).__name__}: no callbacks.Curriculum in the trainer; freezing/LoRA with defaults",
                stacklevel=2,
            )
            self.prepare()

    def train(self, mode: bool = True):
        """Train mode, except for what is frozen: a frozen backbone (or vision tower) stays in eval mode, so it
        never runs dropout and its features are deterministic. The trained LM must be in train mode: HF runs
        activation checkpointing only when ``module.training``."""
        super().train(mode)
        if self.freeze_backbone:
            self.backbone.eval()
        elif mode and not any(p.requires_grad for p in self.backbone.vision_tower.parameters()):
            self.backbone.vision_tower.eval()
        return self

    # ---- compute -----------------------------------------------------------------------------------------------
    def compute_features(self, batch: dict, split: str) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Pooled features (and the LM loss when training on a text target) from one backbone forward."""
        with_loss = split == "train" and self.has_lm_objective
        if with_loss and "labels" not in batch:
            raise ConfigError(
                f"{type(self).__name__} trains on target {self.target!r} but the training batch has no labels "
                "(the datamodule's target must follow the stage: leave it unset or set it to the stage's target)"
            )
        if self.freeze_backbone:
            with torch.no_grad():
                return self.backbone.forward(batch, with_loss=False)[0], None
        return self.backbone.forward(batch, with_loss=with_loss)

    def anomaly_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        weight = torch.tensor(self.hparams.pos_weight, device=logits.device, dtype=logits.dtype)
        return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype), pos_weight=weight)

    def losses(self, out: HeadOutput, batch: dict, lm_loss: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Unweighted loss per objective."""
        result = {
            "cls": self.anomaly_loss(out.anomaly, batch["label"]),
            "category": F.cross_entropy(out.category, batch["category"]),
        }
        if self.has_lm_objective:
            result["lm"] = lm_loss
        return result

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        features, lm_loss = self.compute_features(batch, "train")
        losses = self.losses(self.head(features), batch, lm_loss)
        weights = {
            "cls": self.hparams.cls_weight,
            "category": self.hparams.category_weight,
            "lm": self.hparams.lm_weight,
        }
        total = sum(weights[k] * v for k, v in losses.items())
        if not torch.isfinite(total):  # stop before backward/step: the last checkpoint keeps finite weights
            parts = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in losses.items())
            raise NonFiniteLossError(f"non-finite training loss at step {self.global_step} ({parts}); lower the "
                                     "learning rate or check the data, then resume with --ckpt_path last")
        n = batch_size(batch)
        self.log("train/loss", total, prog_bar=True, batch_size=n)
        for name, value in losses.items():
            self.log(f"train/loss_{name}", value, batch_size=n)
        return total

    # ---- evaluation --------------------------------------------------------------------------------------------
    def _generates(self, split: str, batch_idx: int) -> bool:
        if self.target == "none":
            return False
        limit = self.hparams.generate_val_batches if split == "val" else self.hparams.generate_test_batches
        return limit < 0 or batch_idx < limit

    def answer_constraint(self):
        """The answer-grammar constraint for generation (on by default), or None when ``constrained`` is off."""
        if not self.hparams.constrained:
            return None
        from vanguard.decoding import AnswerConstraint

        # the grammar's tables are cached per tokenizer, so building the processor per call is cheap; free reasoning
        # text gets half the token budget, then </think> is forced and the JSON answer follows
        think = "required" if self.target == "reasoning" else "none"
        budget = max(16, self.hparams.max_new_tokens // 2)
        return AnswerConstraint(self.backbone.tokenizer, think=think, think_max_tokens=budget,
                                max_boxes=self.hparams.max_boxes, min_boxes=int(self.hparams.require_boxes),
                                repetition_penalty=self.hparams.repetition_penalty,
                                no_repeat_ngram_size=self.hparams.no_repeat_ngram_size)

    def logits_processor(self):
        from transformers import LogitsProcessorList

        constraint = self.answer_constraint()
        return None if constraint is None else LogitsProcessorList([constraint])

    def decide(self, out: HeadOutput) -> list[Decision]:
        """The head's decision per sample (score vs ``threshold``; category among the anomaly categories)."""
        return decide(out.anomaly, out.category, self.hparams.threshold)

    def stated_decisions(self, batch: dict, decisions: list[Decision]) -> list[Decision]:
        """What a validation or test answer is forced to state (``answer_decision``): the head's ``decisions``, or
        the ground truth's (:func:`vanguard.decision.ground_truth_decisions`)."""
        if self.hparams.answer_decision == "ground_truth":
            return ground_truth_decisions(batch["label"], batch["category"], decisions)
        return decisions

    def generate(self, batch: dict, decisions: Sequence[Decision] | None = None) -> list[str]:
        """Answers for a prompt-only batch; with ``decisions`` (and ``constrained``) each answer states its
        sample's decision and category, and the model writes the boxes and the reasoning."""
        constraint = self.answer_constraint()
        if constraint is None:
            controls = {"repetition_penalty": self.hparams.repetition_penalty}
            if self.hparams.no_repeat_ngram_size > 0:
                controls["no_repeat_ngram_size"] = self.hparams.no_repeat_ngram_size
            return self.backbone.generate(batch, max_new_tokens=self.hparams.max_new_tokens, **controls)
        from transformers import LogitsProcessorList

        if decisions is not None:
            constraint.force(forced_categories(decisions))

        # a constrained answer always completes: the budget covers the longest text the grammar accepts (a
        # trained model stops far earlier; generation ends when every sample has emitted EOS)
        budget = max(self.hparams.max_new_tokens, constraint.required_new_tokens())
        return self.backbone.generate(batch, max_new_tokens=budget, logits_processor=LogitsProcessorList([constraint]))

    def _eval_step(self, batch: dict, batch_idx: int, split: str) -> dict[str, Any]:
        features, _ = self.compute_features(batch, split)
        out = self.head(features)
        scores = torch.sigmoid(out.anomaly.float())
        decisions = self.decide(out)
        n = batch_size(batch)
        loss_cls = self.anomaly_loss(out.anomaly, batch["label"])
        self.log(f"{split}/loss_cls", loss_cls, batch_size=n, sync_dist=True)
        score_metrics = getattr(self, f"{split}_scores")
        score_metrics.update(scores, batch["label"])
        getattr(self, f"{split}_category").update(out.category, batch["category"])
        stated = self.stated_decisions(batch, decisions)  # the head's, unless answer_decision gives the truth's
        result: dict[str, Any] = {"scores": scores.detach(), "decisions": decisions, "stated": stated, "texts": None}
        if self._generates(split, batch_idx):
            texts = self.generate(batch, stated)
            parsed = [parse_answer(t) for t in texts]
            getattr(self, f"{split}_generation").update(parsed, batch["meta"], stated)
            result.update(texts=texts, parsed=parsed)
        if split == "test":
            for i, meta in enumerate(batch["meta"]):
                record = {
                    "key": meta.get("key"),
                    "video_id": meta["video_id"],
                    "frame_indices": list(meta["frame_indices"]),
                    "score": float(scores[i]),
                    "label": int(batch["label"][i]),
                    "category": CATEGORIES[int(batch["category"][i])],
                    "decision": decisions[i].anomaly,
                    "pred_category": decisions[i].category,
                }
                record.update(sample_record_fields(meta))
                if stated is not decisions:  # what the answer was forced to state (decision_checks compare with it)
                    record.update(forced_decision=stated[i].anomaly, forced_category=stated[i].category)
                if result["texts"] is not None:
                    parsed = result["parsed"][i]
                    record.update(text=result["texts"][i], parse_reason=parsed.reason, pred_reasoning=parsed.reasoning,
                                  pred_answer=parsed.answer.as_json() if parsed.answer is not None else None)
                self.test_records.append(record)
        return result

    def _log_epoch(self, split: str) -> None:
        self.log_dict(getattr(self, f"{split}_scores").compute(), sync_dist=False)
        getattr(self, f"{split}_scores").reset()
        self.log(f"{split}/category_acc", getattr(self, f"{split}_category").compute())
        getattr(self, f"{split}_category").reset()
        generation = getattr(self, f"{split}_generation")
        if self.target != "none":  # every rank computes (compute syncs across ranks), then logs if any answer
            values = generation.compute()
            if int(values.pop("answers")) > 0:
                self.log_dict({f"{split}/{k}": v for k, v in values.items()})
        generation.reset()

    def validation_step(self, batch: dict, batch_idx: int) -> dict[str, Any]:
        return self._eval_step(batch, batch_idx, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_epoch("val")

    def on_test_epoch_start(self) -> None:
        self.test_records = []

    def test_step(self, batch: dict, batch_idx: int) -> dict[str, Any]:
        return self._eval_step(batch, batch_idx, "test")

    def on_test_epoch_end(self) -> None:
        self._log_epoch("test")
        records = self.test_records
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list = [None] * torch.distributed.get_world_size()
            torch.distributed.all_gather_object(gathered, records)
            records = [r for part in gathered for r in part]
        self.test_records = records  # every rank holds all records now (callbacks.FrameLevelEvaluation reads them)
        if self.trainer.is_global_zero:
            from vanguard.io import write_json

            log_dir = Path(self.trainer.log_dir or self.trainer.default_root_dir)
            write_json(log_dir / "subclip_scores.json", {"stage": type(self).__name__, "records": records})

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict]:
        features, _ = self.compute_features(batch, "predict")
        decisions = self.decide(self.head(features))
        texts: list[str | None] = [None] * len(decisions)
        if self.target != "none" and self.hparams.generate_predict:  # text only where it is needed
            rows = [i for i, d in enumerate(decisions) if d.anomaly or self.hparams.generate_normal]
            if rows:
                sub = batch if len(rows) == len(decisions) else select_samples(batch, rows)
                for i, text in zip(rows, self.generate(sub, [decisions[i] for i in rows]), strict=True):
                    texts[i] = text
        return [
            {
                "key": meta.get("key"),
                "video_id": meta["video_id"],
                "frame_indices": list(meta["frame_indices"]),
                "score": decisions[i].score,
                "decision": decisions[i].anomaly,
                "pred_category": decisions[i].category,
                "threshold": self.hparams.threshold,
                "text": texts[i],
            }
            for i, meta in enumerate(batch["meta"])
        ]

    # ---- optimisation ------------------------------------------------------------------------------------------
    def param_groups(self) -> list[dict]:
        """Named AdamW groups: head, LoRA (and other trainable backbone weights); no decay on biases and norms."""
        wd = self.hparams.weight_decay
        buckets: dict[str, list] = {}
        for name, param in self.named_parameters():
            if not param.requires_grad:
                continue
            if name.startswith("head."):
                group = "head"
            elif "lora_" in name:
                group = "lora"
            else:
                group = "backbone"
            key = group if param.ndim >= 2 else f"{group}_no_decay"
            buckets.setdefault(key, []).append(param)
        lr_backbone = self.hparams.lr_backbone if self.hparams.lr_backbone is not None else self.hparams.lr_lora
        lr = {"head": self.hparams.lr_head, "lora": self.hparams.lr_lora, "backbone": lr_backbone}
        groups = []
        for key, params in buckets.items():
            group = key.removesuffix("_no_decay")
            groups.append({"name": key, "params": params, "lr": lr[group], "weight_decay": 0.0 if key != group else wd})
        if not groups:
            raise ConfigError(f"{type(self).__name__}: nothing is trainable (was the head frozen?)")
        return groups

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.param_groups())
        warmup = max(0, self.hparams.warmup_steps)
        total = self.trainer.max_steps if self.trainer is not None else -1
        if self.hparams.lr_schedule == "cosine" and (total is None or total <= 0):
            raise ConfigError("lr_schedule 'cosine' needs trainer.max_steps > 0")

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            if self.hparams.lr_schedule == "cosine":
                progress = min(1.0, (step - warmup) / max(1, total - warmup))
                return 0.5 * (1.0 + math.cos(math.pi * progress))
            return 1.0

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    # ---- trimmed checkpoints -----------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict) -> None:
        from vanguard.checkpoints import prune_frozen

        prune_frozen(checkpoint, self)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        from vanguard.checkpoints import apply_optimizer_settings, check_trainable_present

        check_trainable_present(checkpoint, self)
        if self._trainer is not None and self.trainer.state.fn == "fit":
            # the resumed optimizer would otherwise keep the checkpoint's rates while config.yaml records the new
            changes = apply_optimizer_settings(checkpoint, self)
            if changes and self.trainer.is_global_zero:
                print(f"[resume] applied this run's settings to the resumed optimizer: {'; '.join(changes)}",
                      flush=True)
