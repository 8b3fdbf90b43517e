"""The Curriculum callback: hands weights from one stage to the next and sets up what a stage trains.

In ``setup`` (which Lightning runs before DDP wraps the model, before the optimizer exists and before a
``--ckpt_path`` checkpoint is restored) it

1. loads the previous stage's export from ``init_from`` (head, then the LoRA adapter, whose keys only exist
   after injection, so loading it IS the injection: :func:`vanguard.checkpoints.load_stage_export`);
2. freezes what the stage freezes, injects LoRA (peft, explicit regex on the language model; the vision tower
   stays frozen unless configured) if the stage uses LoRA and none was loaded, and re-enables the head
   (:meth:`vanguard.stages.StageBase.prepare`);
3. prints the stage's trainable and total parameter counts (rank 0).

At the end of ``fit`` it exports the stage's weights (``head.safetensors`` + ``adapter/`` in peft's format) to
``export_dir``, by default ``<trainer.default_root_dir>/export``: the next stage's ``init_from``.

Never unfreeze anything later (DDP only reduces gradients of parameters trainable when it wraps the model), and
never hand LoRA modules to ``BaseFinetuning.unfreeze_and_add_param_group`` (it unfreezes ``base_layer`` weights
and drops zero-initialised ``lora_B`` from the optimizer).
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch import Callback, LightningModule, Trainer

from vanguard.adapters import lora_config, parameter_counts
from vanguard.errors import ConfigError


class Curriculum(Callback):
    """Stage hand-over: load ``init_from``, freeze, inject LoRA, export at fit end.

    Args:
        init_from: the previous stage's export folder (``<its default_root_dir>/export``); None starts from the
            backbone alone (stage 1, the monolithic ablation).
        freeze_vision: keep the vision tower (including the deepstack mergers) frozen; False trains it fully.
        lora_r: LoRA rank of a fresh adapter (None: 16). An adapter loaded from ``init_from`` keeps its own rank:
            a different ``lora_r`` is refused rather than ignored.
        lora_alpha: LoRA alpha (None: twice the rank). Like ``lora_r``, it must match a loaded adapter's.
        lora_dropout: LoRA dropout.
        lora_vision: also put LoRA on the vision blocks' attention and MLP.
        train_final_norm: also train the language model's final RMSNorm weight (one vector). With tied input/output
            embeddings and that norm frozen, LoRA cannot change the scale of the logits: a small backbone whose
            pretraining left them flat (the tiny demo model: the right token first at p ~ 0.07) never becomes
            confident however long LoRA trains. Exported with the stage and handed on to the next.
        export_dir: where ``fit`` end writes the stage's weights; default ``<trainer.default_root_dir>/export``.
        export: write the export at fit end.
    """

    def __init__(
        self,
        init_from: str | None = None,
        freeze_vision: bool = True,
        lora_r: int | None = None,
        lora_alpha: int | None = None,
        lora_dropout: float = 0.05,
        lora_vision: bool = False,
        train_final_norm: bool = False,
        export_dir: str | None = None,
        export: bool = True,
    ):
        self.init_from = init_from
        self.freeze_vision = freeze_vision
        self.lora_r, self.lora_alpha, self.lora_dropout, self.lora_vision = (
            lora_r,
            lora_alpha,
            lora_dropout,
            lora_vision,
        )
        self.train_final_norm = train_final_norm
        self.export_dir = export_dir
        self.export = export
        self.loaded: list[str] = []
        self.trained_here = False

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        from vanguard.checkpoints import load_stage_export

        if not hasattr(pl_module, "prepare"):
            raise ConfigError(f"callbacks.Curriculum needs a vanguard.stages stage, got {type(pl_module).__name__}")
        if pl_module.prepared:  # setup runs again for a second fit/test on the same module: nothing to redo
            return
        if self.init_from:
            self.loaded = load_stage_export(pl_module, self.init_from)
            self._check_loaded_adapter(pl_module)
        r = self.lora_r if self.lora_r is not None else 16
        alpha = self.lora_alpha if self.lora_alpha is not None else 2 * r
        lora = lora_config(r=r, alpha=alpha, dropout=self.lora_dropout, vision=self.lora_vision)
        pl_module.prepare(lora, freeze_vision=self.freeze_vision, train_final_norm=self.train_final_norm)
        trainable, total = parameter_counts(pl_module)
        if trainable == 0:
            raise ConfigError(f"{type(pl_module).__name__}: nothing is trainable after setup")
        if trainer.is_global_zero:
            origin = (
                f"from {self.init_from} ({', '.join(self.loaded)})" if self.init_from else "from the backbone alone"
            )
            print(
                f"[curriculum] {pl_module.describe()}; weights {origin}\n"
                f"[curriculum] trainable parameters: {trainable:,} of {total:,} ({100 * trainable / total:.3f}%)",
                flush=True,
            )

    def _check_loaded_adapter(self, pl_module: LightningModule) -> None:
        """A rank or alpha set here that the loaded adapter does not have would be silently ignored: refuse it."""
        loaded = getattr(pl_module.backbone.model, "_vanguard_lora_config", None)
        if loaded is None:
            return
        for option, value, theirs in (("lora_r", self.lora_r, loaded.r), ("lora_alpha", self.lora_alpha, loaded.lora_alpha)):
            if value is not None and value != theirs:
                raise ConfigError(
                    f"{option}: {value} differs from the adapter loaded from init_from {self.init_from!r} "
                    f"({option} {theirs}); a loaded adapter keeps its own rank and alpha: set {option}: {theirs} "
                    "(or null), or start without that adapter"
                )

    def _check_evaluated_export(self, trainer: Trainer, pl_module: LightningModule) -> None:
        """Without a checkpoint, test/validate/predict evaluate the export itself: it must be this stage's own."""
        from vanguard.checkpoints import check_export_fits, read_stage_info

        if self.init_from and trainer.ckpt_path is None and not self.trained_here:
            check_export_fits(pl_module, Path(self.init_from), read_stage_info(self.init_from), fitting=False)

    def on_train_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self.trained_here = True  # a later test/predict in this process evaluates these weights, not the export

    def on_validation_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if trainer.state.fn != "fit":
            self._check_evaluated_export(trainer, pl_module)

    def on_test_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._check_evaluated_export(trainer, pl_module)

    def on_predict_start(self, trainer: Trainer, pl_module: LightningModule) -> None:
        self._check_evaluated_export(trainer, pl_module)

    def export_path(self, trainer: Trainer) -> Path:
        return Path(self.export_dir) if self.export_dir else Path(trainer.default_root_dir) / "export"

    def on_fit_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        from vanguard.checkpoints import export_stage

        if not self.export:
            return
        if trainer.is_global_zero:
            out = export_stage(pl_module, self.export_path(trainer))
            print(f"[curriculum] exported {type(pl_module).__name__} weights to {out}", flush=True)
        trainer.strategy.barrier("curriculum_export")
