"""The shared Backbone: one Qwen3-VL model and its processor, loaded from a local directory.

Every curriculum stage receives the same Backbone instance (injected through the config); a stage never builds its
own model. It gives the stages pooled features for the classification head, the language-model loss of a target
answer (labels masked to the assistant turn by :mod:`vanguard.processing`), and generation.
"""

from __future__ import annotations

from typing import Literal, get_args

import torch
from torch import nn

from vanguard.processing import IGNORE_INDEX, MODEL_KEYS, SubclipEncoder, check_backbone_dir, normalize_patches


def max_per_subclip(patches: torch.Tensor, video_grid_thw: torch.Tensor) -> torch.Tensor:
    """Element-wise max over each subclip's own patch states: ``patches`` (all subclips' patches in batch order, H)
    split by each subclip's (t, h, w) grid -> (B, H)."""
    return torch.stack([p.amax(0) for p in patches.split(video_grid_thw.prod(-1).tolist())])


def temporal_max_per_subclip(patches: torch.Tensor, video_grid_thw: torch.Tensor) -> torch.Tensor:
    """Per subclip: the element-wise max over its patch states, next to the largest change between consecutive
    temporal patches' maxima (``max_t |m[t+1] - m[t]|``, ``m[t]`` the max over temporal patch t) -> (B, 2H).
    The tower attends within one temporal patch (two frames), so motion across the subclip is what the second
    half adds. Patches are t-major, as the vision tower emits them."""
    feats = []
    for p, (t, h, w) in zip(patches.split(video_grid_thw.prod(-1).tolist()), video_grid_thw.tolist()):
        m = p.view(t, h * w, -1).amax(1)  # (t, H)
        change = (m[1:] - m[:-1]).abs().amax(0) if t > 1 else torch.zeros_like(m[0])
        feats.append(torch.cat([m.amax(0), change]))
    return torch.stack(feats)


def answer_positions(labels: torch.Tensor) -> torch.Tensor:
    """(B, L) labels -> (B, L) bool: the positions whose next token is a target (labels not ``IGNORE_INDEX``),
    i.e. the only positions whose logits the causal LM loss reads."""
    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return keep


def causal_lm_forward(model: nn.Module, inputs: dict, **kwargs) -> tuple:
    """``model(**inputs, **kwargs)`` -> ``(HF output, loss or None)``, where the loss is HF's causal LM loss (fp32,
    mean over the target tokens) of ``inputs["labels"]`` when present.

    Only the positions the loss reads are projected onto the vocabulary (HF's ``logits_to_keep``): HF's default
    projects every position, for the 4B model ~1.5 MB per token with the fp32 upcast and its gradient (~1 GB per
    760-token sample), though the loss reads the answer's few dozen. Without labels no logit is needed and one
    (the smallest HF allows) is kept. ``output.logits`` holds the kept rows only."""
    inputs = dict(inputs)
    labels = inputs.pop("labels", None)
    if labels is not None and not bool((labels != IGNORE_INDEX).any()):  # no sample of the batch has a target
        out = model(**inputs, logits_to_keep=1, **kwargs)  # (the datamodule masks a target that breaks the rule)
        return out, out.logits.float().sum() * 0.0  # a zero loss, still part of the graph
    keep = answer_positions(labels) if labels is not None else 1
    out = model(**inputs, logits_to_keep=keep, **kwargs)
    if labels is None:
        return out, None
    # the kept rows come out flattened in row-major order, as do their targets here
    return out, nn.functional.cross_entropy(out.logits.float(), labels[:, 1:][keep[:, :-1]])


Pooling = Literal["video", "prompt", "both", "vision", "vision+prompt", "vision_temporal", "vision_temporal+prompt"]
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


class Backbone(nn.Module):
    """Qwen3-VL loaded with ``AutoModelForImageTextToText.from_pretrained(path)`` (``trust_remote_code`` off).

    Args:
        path: local directory of a Qwen3-VL checkpoint (the real 4B model, or one written by
            ``python -m vanguard backbone tiny DIR``).
        dtype: parameter dtype: ``float32``, ``bfloat16`` or ``float16``.
        attn_implementation: ``sdpa``, ``eager`` or ``flash_attention_2``.
        activation_checkpointing: recompute activations in backward (non-reentrant), for the 4B model on one GPU.
        num_frames: frames sampled per subclip.
        frame_pixels: pixel budget per frame (frames are resized to fit, multiples of 32).
        pooling: ``video`` (mean over video tokens), ``prompt`` (the last prompt token, which has seen the whole
            clip but not the answer) or ``both`` (their concatenation), all read from the language model's last
            hidden states; ``vision`` (element-wise max over the subclip's patch states from the vision tower's
            last block, before the merger) or ``vision+prompt`` (that and the prompt token); ``vision_temporal``
            (that max and the largest change between the subclip's temporal patches' maxima,
            :func:`temporal_max_per_subclip`) or ``vision_temporal+prompt``. A max keeps a cue that fills a few
            patches, which a mean over the frame washes out; the change adds motion across the subclip, which the
            tower (attending within two frames) does not see; on SynthCrime the tiny backbone learns the anomaly
            from the vision tower and not through the merger and language model (research/findings.md). Causal
            attention keeps every option free of the target text, so features can be taken from the same forward
            pass as the LM loss.
    """

    def __init__(
        self,
        path: str,
        dtype: Literal["float32", "bfloat16", "float16"] = "float32",
        attn_implementation: Literal["sdpa", "eager", "flash_attention_2"] = "sdpa",
        activation_checkpointing: bool = False,
        num_frames: int = 16,
        frame_pixels: int = 128 * 128,
        pooling: Pooling = "both",
    ):
        super().__init__()
        from transformers import AutoModelForImageTextToText

        self.path = str(check_backbone_dir(path))
        self.num_frames = num_frames
        self.frame_pixels = frame_pixels
        if pooling not in get_args(Pooling):  # the Literal is checked by the CLI, not by a call from Python
            raise ValueError(f"pooling must be one of {', '.join(get_args(Pooling))}, got {pooling!r}")
        self.pooling = pooling
        self.model = AutoModelForImageTextToText.from_pretrained(
            self.path, dtype=_DTYPES[dtype], attn_implementation=attn_implementation, trust_remote_code=False
        )
        self.encoder = SubclipEncoder(self.path, frame_pixels=frame_pixels)
        if activation_checkpointing:
            self.model.config.use_cache = False
            self.model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
            self.model.enable_input_require_grads()

    # ---- structure -------------------------------------------------------------------------------------------
    @property
    def processor(self):
        return self.encoder.processor

    @property
    def tokenizer(self):
        return self.encoder.tokenizer

    @property
    def text_hidden_size(self) -> int:
        return self.model.config.text_config.hidden_size

    @property
    def feature_size(self) -> int:
        text, vision = self.text_hidden_size, self.model.config.vision_config.hidden_size
        return {
            "video": text, "prompt": text, "both": 2 * text, "vision": vision, "vision+prompt": vision + text,
            "vision_temporal": 2 * vision, "vision_temporal+prompt": 2 * vision + text,
        }[self.pooling]

    @property
    def language_model(self) -> nn.Module:
        return self.model.model.language_model

    @property
    def vision_tower(self) -> nn.Module:
        return self.model.model.visual

    # ---- compute ---------------------------------------------------------------------------------------------
    def _inputs(self, batch: dict) -> dict:
        """The HF model's inputs from a batch; uint8 video patches (what the DataLoader workers ship) are rescaled
        and normalised here, on the batch's device, with the processor's constants, in the model's dtype."""
        inputs = {k: batch[k] for k in MODEL_KEYS if k in batch}
        if "pixel_values_videos" in inputs:
            inputs["pixel_values_videos"] = normalize_patches(inputs["pixel_values_videos"], self.processor, self.model.dtype)
        return inputs

    def pool(self, hidden: torch.Tensor, batch: dict, patches: torch.Tensor | None = None) -> torch.Tensor:
        """Pool the last hidden states (B, L, H), and for ``vision`` pooling the vision tower's patch states
        (patches of every subclip in batch order, Hv), into features (B, feature_size), in float32."""
        hidden = hidden.float()
        prompt = hidden[torch.arange(hidden.shape[0], device=hidden.device), batch["prompt_end"]]
        if self.pooling.startswith("vision"):
            pool = temporal_max_per_subclip if self.pooling.startswith("vision_temporal") else max_per_subclip
            vision = pool(patches.float(), batch["video_grid_thw"])
            return torch.cat([vision, prompt], dim=-1) if self.pooling.endswith("+prompt") else vision
        video = batch["mm_token_type_ids"] == 2
        video_mean = (hidden * video.unsqueeze(-1)).sum(1) / video.sum(1, keepdim=True).clamp(min=1)
        if self.pooling == "video":
            return video_mean
        if self.pooling == "prompt":
            return prompt
        return torch.cat([video_mean, prompt], dim=-1)

    def forward(self, batch: dict, with_loss: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """One forward pass: ``(pooled features, LM loss or None)``. The loss needs ``labels`` in the batch."""
        inputs = self._inputs(batch)
        if not with_loss:
            inputs.pop("labels", None)
        captured: dict[str, torch.Tensor] = {}
        hook = None
        if self.pooling.startswith("vision"):  # the tower's output inside the same forward, not a second pass
            hook = self.vision_tower.register_forward_hook(
                lambda module, args, out: captured.__setitem__("patches", out.last_hidden_state)
            )
        try:
            out, loss = causal_lm_forward(self.model, inputs, output_hidden_states=True, use_cache=False)
        finally:
            if hook is not None:
                hook.remove()
        if hook is not None and "patches" not in captured:
            raise ValueError("pooling='vision' needs video inputs (pixel_values_videos) in the batch")
        return self.pool(out.hidden_states[-1], batch, captured.get("patches")), loss

    def features(self, batch: dict) -> torch.Tensor:
        """Pooled features of a batch of subclips (no target needed)."""
        return self.forward(batch, with_loss=False)[0]

    def lm_loss(self, batch: dict) -> torch.Tensor:
        """Language-model loss of the target answer (labels are -100 outside the assistant turn)."""
        return self.forward(batch)[1]

    @torch.no_grad()
    def generate(self, batch: dict, max_new_tokens: int = 256, logits_processor=None, **controls) -> list[str]:
        """Greedy generation for a left-padded batch; returns the new text of each sample. ``controls``: more HF
        generation settings (``repetition_penalty``, ``no_repeat_ngram_size``, ...)."""
        inputs = self._inputs(batch)
        inputs.pop("labels", None)
        out = self.model.generate(
            **inputs,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            logits_processor=logits_processor,
            pad_token_id=self.tokenizer.pad_token_id,
            **controls,
        )
        new = out[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new, skip_special_tokens=True)
