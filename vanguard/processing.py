"""Turn decoded subclips into model inputs with the HF processor and chat template (runs in DataLoader workers).

One :class:`SubclipEncoder` holds the processor (loaded from the backbone directory, no model), renders the chat
conversation, runs the processor on the frames with their real fps and their frame numbers counted from the
subclip's first frame (so the timestamps Qwen3-VL puts between frames are real seconds of the subclip's own clock,
see :class:`SubclipEncoder`), and masks labels to the assistant's answer. :func:`collate` pads a list of
encoded items into a batch that keeps every field the model needs (``mm_token_type_ids`` included).

Speed (this runs once per subclip in every DataLoader worker): the processor's own steps run in a cheaper order.
The frames are resized by the video processor's ``resize`` (its ``smart_resize`` size, its bicubic antialiased
uint8 kernel) BEFORE the processor call, which then runs with ``do_resize/do_rescale/do_normalize=False``: it only
patchifies the uint8 frames, computes the grid and expands the chat template's video placeholder (per-frame
timestamps from fps and frame indices). The processor's rescale and normalise then run on the contiguous uint8
patches (:func:`normalize_patches`). Every step is elementwise or a copy, so the result is bit-identical to one
processor call on the full frames (tests/foundation/test_processing.py), but it skips normalising and patchifying
a float video laid out channels-last by the resize (strided float ops: ~3 ms of ~9 ms per 16-frame subclip on
this machine).
DataLoader workers skip the normalisation altogether (``encode(normalize=False)``): batches carry the uint8
patches (4x fewer bytes through shared memory and to the GPU) and the model side normalises them on its device
(:class:`vanguard.backbone.Backbone` and backbone pretraining call :func:`normalize_patches` on their inputs).
Frames that already have the size the resize picks (shards written with annotation's ``shard_frame_pixels``: the
subclips are stored at the model's size) skip the resize, which at that size is the identity.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import get_worker_info

from vanguard.errors import BackboneNotFoundError
from vanguard.prompts import conversation

IGNORE_INDEX = -100
MODEL_KEYS = ("input_ids", "attention_mask", "mm_token_type_ids", "pixel_values_videos", "video_grid_thw", "labels")


def check_backbone_dir(path: str | Path) -> Path:
    """Fail with one clear line when ``path`` is not a saved Qwen3-VL directory (never reach for the hub)."""
    p = Path(path).expanduser()
    expected = ["config.json", "tokenizer.json or tokenizer_config.json", "processor_config.json or preprocessor_config.json"]
    if not p.is_dir():
        raise BackboneNotFoundError(f"backbone directory {str(p)!r} does not exist (expected a local folder with {', '.join(expected)})")
    missing = [name for name in expected if not any((p / alt).is_file() for alt in name.split(" or "))]
    if missing:
        raise BackboneNotFoundError(f"backbone directory {str(p)!r} lacks {', '.join(missing)}")
    return p


#: Qwen3-VL's per-frame pixel cap (``cap_pixels_per_frame``), pinned off wherever a processor is built or loaded.
#: Unset, transformers warns once per process and DataLoader worker and its default is to turn on in a later
#: version, which would shrink the frames silently; the real model card's ``video_preprocessor_config.json`` does
#: not set it. Off is the budget the project computes with (:func:`target_size`: ``frame_pixels`` per frame).
CAP_PIXELS_PER_FRAME = False


def pin_frame_cap(video_processor):
    """Set the video processor's ``cap_pixels_per_frame`` to :data:`CAP_PIXELS_PER_FRAME` when its files leave it
    unset; a directory that turns the cap on explicitly keeps it (:func:`target_size` then refuses to guess the
    size). Returns the video processor."""
    if getattr(video_processor, "cap_pixels_per_frame", False) is None:
        video_processor.cap_pixels_per_frame = CAP_PIXELS_PER_FRAME
    return video_processor


def load_processor(path: str | Path):
    """The backbone directory's processor (``AutoProcessor``, no remote code) with the per-frame cap pinned."""
    from transformers import AutoProcessor

    processor = AutoProcessor.from_pretrained(check_backbone_dir(path), trust_remote_code=False)
    pin_frame_cap(processor.video_processor)
    return processor


def video_size(num_frames: int, frame_pixels: int) -> dict[str, int]:
    """The video processor's ``size`` for a clip of ``num_frames`` frames: at least 2 patches of 32x32 per frame,
    at most ``frame_pixels`` per frame."""
    return {"shortest_edge": 2 * 32 * 32, "longest_edge": max(2, num_frames) * frame_pixels}


@functools.lru_cache(maxsize=1)
def default_video_processor():
    """Qwen3-VL's video processor with its defaults (16-pixel patches merged 2x2, temporal patch 2, bicubic): the
    resize every Qwen3-VL backbone's processor does (the tiny one's too), for code that has no backbone directory
    (annotation writing subclips at the model's size)."""
    from transformers import Qwen3VLVideoProcessor

    return Qwen3VLVideoProcessor(cap_pixels_per_frame=CAP_PIXELS_PER_FRAME)


def target_size(num_frames: int, height: int, width: int, frame_pixels: int, video_processor=None) -> tuple[int, int]:
    """``(height, width)`` the video processor resizes ``num_frames`` frames of ``height x width`` to for a budget
    of ``frame_pixels`` per frame: its own ``smart_resize`` with the arguments its ``resize`` passes."""
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    vp = video_processor or default_video_processor()
    if vp.cap_pixels_per_frame:
        raise ValueError("target_size does not model cap_pixels_per_frame; resize with the processor instead")
    size = video_size(num_frames, frame_pixels)
    return smart_resize(num_frames=num_frames, height=height, width=width, factor=vp.patch_size * vp.merge_size,
                        temporal_factor=vp.temporal_patch_size, min_pixels=size["shortest_edge"],
                        max_pixels=size["longest_edge"])


def video_tokens(vision_config, num_frames: int, height: int, width: int, frame_pixels: int) -> tuple[int, tuple[int, int]]:
    """(video tokens, (height, width) resized) of one subclip of ``num_frames`` frames of ``height x width`` for a
    model with ``vision_config`` (a Qwen3-VL vision config: patch, merge and temporal patch sizes), at the budget
    of ``frame_pixels`` per frame the video processor resizes to (no per-frame cap, :data:`CAP_PIXELS_PER_FRAME`)."""
    from transformers.models.qwen3_vl.video_processing_qwen3_vl import smart_resize

    v = vision_config
    factor, temporal = v.patch_size * v.spatial_merge_size, v.temporal_patch_size
    size = video_size(num_frames, frame_pixels)
    h, w = smart_resize(num_frames, height, width, temporal_factor=temporal, factor=factor,
                        min_pixels=size["shortest_edge"], max_pixels=size["longest_edge"])
    return -(-num_frames // temporal) * (h // factor) * (w // factor), (h, w)


def resize_video(video: torch.Tensor, frame_pixels: int, video_processor=None) -> torch.Tensor:
    """(T, C, H, W) uint8 -> (T, C, h, w) uint8 by the video processor's own ``resize`` for the ``frame_pixels``
    budget. Frames already at the size it picks are returned unchanged (its resize to the same size is the
    identity, bit for bit: tests/foundation/test_processing.py), which saves ~2 ms per 16-frame subclip."""
    from transformers.image_utils import SizeDict

    vp = video_processor or default_video_processor()
    t, _, h, w = video.shape
    if not vp.cap_pixels_per_frame and target_size(t, h, w, frame_pixels, vp) == (h, w):
        return video
    resized = vp.resize(
        videos=video[None],  # the processor resizes (B, T, C, H, W) stacks
        size=SizeDict(**video_size(t, frame_pixels)),
        resample=vp.resample,
        factor=vp.patch_size * vp.merge_size,
        temporal_factor=vp.temporal_patch_size,
        cap_pixels_per_frame=vp.cap_pixels_per_frame,
    )
    return resized[0]


def resize_frames(frames: np.ndarray, frame_pixels: int, video_processor=None) -> np.ndarray:
    """(T, H, W, 3) uint8 -> (T, h, w, 3) uint8 at the size the video processor picks for ``frame_pixels`` per
    frame, by its own resize (what annotation stores when ``shard_frame_pixels`` is set)."""
    video = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
    return np.ascontiguousarray(resize_video(video, frame_pixels, video_processor).permute(0, 2, 3, 1).numpy())


def normalize_patches(pixel_values: torch.Tensor, processor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """uint8 video patches -> the video processor's rescaled and normalised float patches, in ``dtype``
    (default float32), on the patches' device. Float input is returned as it is (it is normalised already).

    ``pixel_values`` is ``(N, C * temporal_patch * patch * patch)`` as ``patchify`` flattens a patch: channel-major
    (C, T, P, P), so channel ``c`` is the ``c``-th contiguous third of a row. ``processor`` is the processor or its
    video processor, whose own ``rescale_and_normalize`` (fused float32 constants, cached per device) runs on that
    view, so the result equals one processor call bit for bit (tests/foundation/test_processing.py); the cast to
    ``dtype`` is the one the model applies to float32 pixels itself."""
    if pixel_values.is_floating_point():
        return pixel_values
    vp = getattr(processor, "video_processor", processor)
    n, dim = pixel_values.shape
    # tuples, as the processor passes them: its fused constants are lru-cached on these arguments
    mean, std = (tuple(v) if isinstance(v, list) else v for v in (vp.image_mean, vp.image_std))
    out = vp.rescale_and_normalize(pixel_values.view(n, 3, dim // 3, 1), vp.do_rescale, vp.rescale_factor,
                                   vp.do_normalize, mean, std)  # RGB; (..., C, H, W) as its frames are
    return out.to(dtype or torch.float32).view(n, dim)


class SubclipEncoder:
    """Encode one subclip (frames + metadata + optional target text) into processor outputs and labels.

    The model sees each subclip as a video of its own: the timestamps Qwen3-VL writes between temporal patches
    start at the subclip's first sampled frame (with the source fps, so the spacing is real seconds). With the
    source video's clock the timestamp tokens tell the model where in its video a subclip lies, and it learns
    where anomalies tend to happen instead of what they look like: on SynthCrime (anomalies mid-video), stage 1
    scored a frame-level ROC-AUC of 0.77 with the video clock and 0.47 (chance) with the subclip clock, on the
    same frozen features. ``video_clock=True`` restores the source video's timestamps.

    Args:
        backbone_path: the backbone directory (only its processor is loaded).
        frame_pixels: pixel budget per frame; frames are resized (aspect kept, multiples of 32) to fit it.
        video_clock: timestamps from the source video's frame numbers instead of the subclip's own clock.
    """

    def __init__(self, backbone_path: str, frame_pixels: int = 128 * 128, video_clock: bool = False):
        self.backbone_path = str(backbone_path)
        self.frame_pixels = frame_pixels
        self.video_clock = video_clock
        self._processor = None

    @property
    def processor(self):
        if self._processor is None:  # loaded lazily: the encoder is pickled into DataLoader workers
            self._processor = load_processor(self.backbone_path)
        return self._processor

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_processor"] = None
        return state

    @property
    def tokenizer(self):
        return self.processor.tokenizer

    def _assistant_prefix(self) -> list[int]:
        if getattr(self, "_prefix", None) is None:
            self._prefix = self.tokenizer.encode("<|im_start|>assistant\n", add_special_tokens=False)
        return self._prefix

    def size(self, num_frames: int) -> dict[str, int]:
        """The video processor's ``size`` for a clip of ``num_frames`` (see :func:`video_size`)."""
        return video_size(num_frames, self.frame_pixels)

    def _resize(self, video: torch.Tensor) -> torch.Tensor:
        """(T, C, H, W) uint8 -> (T, C, h, w) uint8 by the video processor's own resize (the size it would pick);
        frames already at that size (shards written with ``shard_frame_pixels``) are returned as they are."""
        return resize_video(video, self.frame_pixels, self.processor.video_processor)

    def encode(
        self,
        frames: np.ndarray,
        fps: float,
        frame_indices: Sequence[int],
        target: str | None = None,
        reasoning: bool = False,
        question: str | None = None,
        normalize: bool = True,
    ) -> dict[str, torch.Tensor]:
        """Frames (T, H, W, 3) uint8 -> processor outputs for one sample, plus ``labels`` when ``target`` is set
        and ``prompt_end`` (index of the last prompt token, which sees the whole video but not the target).
        ``question`` replaces the anomaly question (used by backbone pretraining).

        ``normalize=True`` gives the processor's float32 ``pixel_values_videos`` (bit-identical to one processor
        call); ``normalize=False`` leaves them as the uint8 patches (same layout, 4x fewer bytes), which
        :func:`normalize_patches` turns into exactly that float tensor later, on the model's device (what the
        DataLoader workers do: :class:`vanguard.backbone.Backbone` normalises its inputs)."""
        from transformers.video_utils import VideoMetadata

        t, h, w, _ = frames.shape
        messages = conversation(reasoning, target, question)
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=target is None)
        clock = [int(i) for i in frame_indices]
        if not self.video_clock:
            clock = [i - clock[0] for i in clock]
        meta = VideoMetadata(total_num_frames=t, fps=float(fps), width=w, height=h, frames_indices=clock)
        video = self._resize(torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2))
        out = self.processor(
            text=[text],
            videos=[video],
            video_metadata=[meta],
            videos_kwargs={"do_sample_frames": False, "do_resize": False, "do_rescale": False, "do_normalize": False},
            return_tensors="pt",
        )
        item = {k: v[0] if k in ("input_ids", "attention_mask", "mm_token_type_ids") else v for k, v in out.items()}
        if normalize:
            item["pixel_values_videos"] = normalize_patches(item["pixel_values_videos"], self.processor)
        ids = item["input_ids"]
        prefix = torch.tensor(self._assistant_prefix())
        windows = ids.unfold(0, len(prefix), 1)  # every run of len(prefix) tokens, vectorised
        starts = (windows == prefix).all(dim=1).nonzero().flatten()
        if len(starts) == 0:
            raise ValueError("rendered conversation has no assistant turn")
        answer_start = int(starts[-1]) + len(prefix)
        item["prompt_end"] = torch.tensor(answer_start - 1)
        if target is not None:
            labels = torch.full_like(ids, IGNORE_INDEX)
            labels[answer_start:] = ids[answer_start:]  # the answer, <|im_end|> and its newline
            item["labels"] = labels
        return item


def collate(items: list[dict[str, torch.Tensor]], pad_token_id: int, padding_side: str = "right",
            extra: dict[str, torch.Tensor] | None = None) -> dict:
    """Pad token fields (right for training, left for generation) and concatenate the video patches. ``extra``
    tensors (the datamodule's label and category) are added to the batch as they are; in a DataLoader worker
    they share the batch's one transfer buffer (see :func:`_pack_for_transfer`)."""
    n = max(len(it["input_ids"]) for it in items)
    batch: dict = {}
    for key, fill in (("input_ids", pad_token_id), ("attention_mask", 0), ("mm_token_type_ids", 0), ("labels", IGNORE_INDEX)):
        if key not in items[0]:
            continue
        rows = []
        for it in items:
            pad = torch.full((n - len(it[key]),), fill, dtype=it[key].dtype)
            rows.append(torch.cat([it[key], pad] if padding_side == "right" else [pad, it[key]]))
        batch[key] = torch.stack(rows)
    shift = [0 if padding_side == "right" else n - len(it["input_ids"]) for it in items]
    batch["prompt_end"] = torch.stack([it["prompt_end"] + s for it, s in zip(items, shift)])
    batch["pixel_values_videos"] = [it["pixel_values_videos"] for it in items]  # concatenated below
    batch["video_grid_thw"] = torch.cat([it["video_grid_thw"] for it in items])
    batch.update(extra or {})
    if get_worker_info() is None:
        batch["pixel_values_videos"] = torch.cat(batch["pixel_values_videos"])
        return batch
    return _pack_for_transfer(batch)


def _pack_for_transfer(tensors: dict[str, torch.Tensor | list[torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The batch's tensors as views of ONE shared-memory buffer (a list of tensors is concatenated into its view).

    In a DataLoader worker the batch goes to the main process through shared memory: each tensor's storage is a
    file descriptor handed over by a socket round trip to the worker (connect, authenticate, ``recvmsg``), and a
    tensor not in shared memory yet is first copied there. Nine small tensors per batch cost more main-process CPU
    than the rest of its work (~0.8 ms per subclip); views of one storage are pickled as that storage once, so a
    batch costs one round trip, and the patches are concatenated straight into it (no copy when pickled). The
    values, dtypes and shapes are those of the separate tensors."""
    align = 64
    layout, offset = [], 0
    for key, value in tensors.items():
        parts = value if isinstance(value, list) else [value]
        shape = (sum(len(p) for p in parts), *parts[0].shape[1:]) if isinstance(value, list) else tuple(value.shape)
        nbytes = math.prod(shape) * parts[0].element_size()
        layout.append((key, value, parts[0].dtype, shape, offset, nbytes))
        offset += -(-nbytes // align) * align
    buffer = torch.empty(0, dtype=torch.uint8).set_(torch.UntypedStorage._new_shared(max(offset, align)))
    out = {}
    for key, value, dtype, shape, start, nbytes in layout:
        view = buffer[start : start + nbytes].view(dtype).view(shape)
        if isinstance(value, list):
            torch.cat(value, out=view)
        else:
            view.copy_(value)
        out[key] = view
    return out
