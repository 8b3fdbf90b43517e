"""SubclipEncoder's fast path (resize before the processor, normalise the uint8 patches after it) against one plain
processor call on the full frames, the way the encoder worked before (the reference).

Tolerance: none. Every step the fast path moves is the processor's own (its ``resize`` with the size it would
pick, its ``patchify``, its ``rescale_and_normalize``) and the moved steps are elementwise or copies, so the pixel
values must be bit-identical, not merely close; the token side (chat template, timestamps, placeholder
expansion) still runs inside the processor and must give the same ids. The same holds for the uint8 patches the
DataLoader workers ship (``encode(normalize=False)``) once :func:`normalize_patches` has run on them: it does the
processor's float32 ops (``x.float() - mean/f``, then ``/ std/f``, with the processor's own float32 constants) in
the same order, and IEEE float32 subtraction and division are correctly rounded, so again bit-identical.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vanguard.answer import Answer, Box, render_answer, render_target
from vanguard.processing import SubclipEncoder, collate, normalize_patches, resize_frames, resize_video, target_size
from vanguard.prompts import conversation
from vanguard.video import decode_clip, encode_mp4

torch.set_num_threads(1)

ANSWER = render_answer(Answer(True, "Fighting", [Box(100, 200, 600, 900)]))


def reference(encoder: SubclipEncoder, frames, fps, frame_indices, target=None, reasoning=False) -> dict:
    """One processor call on the full-size frames: the processor resizes, rescales, normalises and patchifies.
    The frame numbers it gets are counted from the first one (the subclip's own clock) unless the encoder keeps
    the video's clock."""
    from transformers.video_utils import VideoMetadata

    t, h, w, _ = frames.shape
    text = encoder.processor.apply_chat_template(
        conversation(reasoning, target, None), tokenize=False, add_generation_prompt=target is None
    )
    clock = list(frame_indices) if encoder.video_clock else [i - frame_indices[0] for i in frame_indices]
    meta = VideoMetadata(total_num_frames=t, fps=float(fps), width=w, height=h, frames_indices=clock)
    return encoder.processor(
        text=[text],
        videos=[torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)],
        video_metadata=[meta],
        videos_kwargs={"size": encoder.size(t), "do_sample_frames": False},
        return_tensors="pt",
    )


def assert_same(fast: dict, ref: dict) -> None:
    for key in ("input_ids", "attention_mask", "mm_token_type_ids"):
        assert torch.equal(fast[key], ref[key][0]), key
    assert torch.equal(fast["video_grid_thw"], ref["video_grid_thw"])
    assert fast["pixel_values_videos"].dtype == ref["pixel_values_videos"].dtype == torch.float32
    assert torch.equal(fast["pixel_values_videos"], ref["pixel_values_videos"])


CASES = [  # (frames, height, width, fps, stride, frame_pixels): downscale, odd frame count, upscale, portrait
    (16, 240, 320, 30.0, 6, 128 * 128),
    (8, 240, 320, 25.0, 3, 64 * 64),
    (7, 100, 90, 29.97, 1, 64 * 64),
    (4, 40, 30, 10.0, 5, 128 * 128),
    (6, 320, 180, 15.0, 2, 96 * 96),
]


@pytest.mark.parametrize("t,h,w,fps,stride,frame_pixels", CASES)
def test_fast_path_equals_one_processor_call(tiny_backbone_dir, t, h, w, fps, stride, frame_pixels):
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=frame_pixels)
    frames = np.random.default_rng(t * h).integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    indices = list(range(17, 17 + stride * t, stride))
    for target, reasoning in ((None, False), (ANSWER, False), (render_target(Answer(False), "all calm"), True)):
        fast = enc.encode(frames, fps, indices, target=target, reasoning=reasoning)
        ref = reference(enc, frames, fps, indices, target, reasoning)
        assert_same(fast, ref)
        raw = enc.encode(frames, fps, indices, target=target, reasoning=reasoning, normalize=False)
        assert raw["pixel_values_videos"].dtype == torch.uint8
        assert set(raw) == set(fast) and all(torch.equal(raw[k], fast[k]) for k in fast if k != "pixel_values_videos")
        assert_same(dict(raw, pixel_values_videos=normalize_patches(raw["pixel_values_videos"], enc.processor)), ref)


def test_timestamps_follow_the_subclip_clock_so_the_model_cannot_read_where_in_the_video_it_is(tiny_backbone_dir):
    """The same frames cut from the start or from 12 s into a video give the model the same tokens (timestamps
    0.1 s, 0.6 s, ... at 8 fps, frames two apart); ``video_clock=True`` gives the video's own times, as one processor
    call with the source frame numbers does."""
    frames = np.random.default_rng(3).integers(0, 256, (8, 96, 128, 3), dtype=np.uint8)
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=128 * 96)
    early = enc.encode(frames, 8.0, [0, 2, 4, 6, 8, 10, 12, 14])
    late = enc.encode(frames, 8.0, [96, 98, 100, 102, 104, 106, 108, 110])
    assert torch.equal(early["input_ids"], late["input_ids"])
    text = enc.tokenizer.decode(late["input_ids"])
    assert [f"<{t} seconds>" in text for t in ("0.1", "0.6", "1.1", "1.6", "12.1")] == [True] * 4 + [False]

    video = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=128 * 96, video_clock=True)
    late_video = video.encode(frames, 8.0, [96, 98, 100, 102, 104, 106, 108, 110])
    assert "<12.1 seconds>" in enc.tokenizer.decode(late_video["input_ids"])
    assert_same(late_video, reference(video, frames, 8.0, [96, 98, 100, 102, 104, 106, 108, 110]))


def test_normalize_patches_follows_the_channel_layout_of_patchify(tiny_backbone_dir):
    """With a different mean and std per channel (the tiny and the real processor both use 0.5 for all three, which
    would hide a channel mix-up), uint8 patches + ``normalize_patches`` equal the processor's own float output bit
    for bit; float input is returned as it is; other dtypes are the float32 result cast (what the model does)."""
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=64 * 64)
    vp = enc.processor.video_processor
    vp.image_mean, vp.image_std = [0.1, 0.45, 0.8], [0.2, 0.3, 0.6]
    frames = np.random.default_rng(5).integers(0, 256, (6, 64, 96, 3), dtype=np.uint8)
    indices = [0, 3, 6, 9, 12, 15]
    ref = reference(enc, frames, 30.0, indices)["pixel_values_videos"]
    raw = enc.encode(frames, 30.0, indices, normalize=False)["pixel_values_videos"]
    out = normalize_patches(raw, enc.processor)
    assert out.dtype == torch.float32 and torch.equal(out, ref)
    assert torch.equal(normalize_patches(raw, vp), ref)  # the video processor alone will do too
    assert normalize_patches(out, enc.processor) is out
    assert torch.equal(normalize_patches(raw, enc.processor, torch.bfloat16), ref.to(torch.bfloat16))
    # a constant-colour clip: channel c of every patch is the c-th third of the row
    red = np.zeros_like(frames)
    red[..., 0] = 255
    patches = normalize_patches(enc.encode(red, 30.0, indices, normalize=False)["pixel_values_videos"], vp)
    third = patches.shape[1] // 3
    expected = [(1.0 - 0.1) / 0.2, (0.0 - 0.45) / 0.3, (0.0 - 0.8) / 0.6]
    for c in range(3):
        assert torch.allclose(patches[:, c * third : (c + 1) * third], torch.tensor(expected[c]), atol=1e-5)


def test_fast_path_on_decoded_video(tiny_backbone_dir):
    """Real H.264 frames (smooth content, not noise) through decord, as the workers see them."""
    y, x = np.mgrid[0:240, 0:320]
    frames = np.stack([np.stack([(x + 9 * i) % 256, (y * 2 + i) % 256, (x + y) % 256], -1) for i in range(12)])
    decoded = decode_clip(encode_mp4(frames.astype(np.uint8), 30.0), [0, 2, 4, 6, 8, 10])
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=128 * 128)
    fast = enc.encode(decoded, 30.0, [0, 12, 24, 36, 48, 60], target=ANSWER)
    assert_same(fast, reference(enc, decoded, 30.0, [0, 12, 24, 36, 48, 60], ANSWER))
    assert fast["video_grid_thw"].tolist() == [[3, 6, 8]]  # 240x320 -> 96x128 at 16384 pixels a frame


@pytest.mark.parametrize("t,h,w,fps,stride,frame_pixels", CASES)
def test_frames_stored_at_the_target_size_encode_exactly_as_source_frames(tiny_backbone_dir, t, h, w, fps, stride,
                                                                          frame_pixels):
    """What annotation's ``shard_frame_pixels`` relies on: ``target_size`` is the size the backbone processor's
    resize picks, ``resize_frames`` (Qwen3-VL's default video processor, no backbone needed) is that resize, the
    processor's resize of frames already at that size is the identity, so the encoder skips it, and encoding the
    pre-resized frames gives the very model inputs of the source-size frames."""
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=frame_pixels)
    vp = enc.processor.video_processor
    frames = np.random.default_rng(t + h).integers(0, 256, (t, h, w, 3), dtype=np.uint8)
    indices = list(range(3, 3 + stride * t, stride))
    if t < vp.temporal_patch_size:
        pytest.skip("the processor refuses fewer frames than a temporal patch")
    stored = resize_frames(frames, frame_pixels)
    video = torch.from_numpy(frames).permute(0, 3, 1, 2)
    by_backbone = enc._resize(video)
    assert stored.shape == (t, *target_size(t, h, w, frame_pixels, vp), 3) == (t, *by_backbone.shape[2:], 3)
    assert np.array_equal(stored, by_backbone.permute(0, 2, 3, 1).numpy())
    again = torch.from_numpy(stored).permute(0, 3, 1, 2)
    assert resize_video(again, frame_pixels, vp) is again  # skipped ...
    from transformers.image_utils import SizeDict  # ... and the processor's own resize would not change it

    plain = vp.resize(videos=again[None], size=SizeDict(**enc.size(t)), resample=vp.resample,
                      factor=vp.patch_size * vp.merge_size, temporal_factor=vp.temporal_patch_size)[0]
    assert torch.equal(plain, again)
    for target in (None, ANSWER):
        from_stored = enc.encode(stored, fps, indices, target=target)
        from_source = enc.encode(frames, fps, indices, target=target)
        assert set(from_stored) == set(from_source)
        for key in from_source:
            assert torch.equal(from_stored[key], from_source[key]), key


class _CollateInWorker(torch.utils.data.IterableDataset):
    def __init__(self, items, extra):
        self.items, self.extra = items, extra

    def __iter__(self):
        batch = collate(self.items, pad_token_id=0, extra=self.extra)
        pointers = {k: v.untyped_storage().data_ptr() for k, v in batch.items()}
        yield {k: v.is_shared() for k, v in batch.items()}, len(set(pointers.values())), batch


def test_collate_packs_the_batch_into_one_shared_buffer_in_workers(tiny_backbone_dir):
    """In a DataLoader worker every tensor of the batch (patches, token fields, extra tensors) is a view of ONE
    shared-memory buffer, so the batch reaches the main process with one file-descriptor hand-over instead of one
    per tensor; the values, dtypes and shapes are those of a plain collate in the main process."""
    enc = SubclipEncoder(str(tiny_backbone_dir), frame_pixels=64 * 64)
    rng = np.random.default_rng(3)
    items = [enc.encode(rng.integers(0, 256, (4, 48, 64, 3), dtype=np.uint8), 30.0, [0, 1, 2, 3],
                        target=ANSWER if i % 2 else "no") for i in range(3)]
    extra = {"label": torch.tensor([0, 1, 1]), "category": torch.tensor([13, 2, 5])}
    in_main = collate(items, pad_token_id=0, extra=extra)
    assert not any(v.is_shared() for v in in_main.values())
    assert torch.equal(in_main["pixel_values_videos"], torch.cat([it["pixel_values_videos"] for it in items]))
    loader = torch.utils.data.DataLoader(_CollateInWorker(items, extra), batch_size=None, num_workers=1)
    (shared, storages, batch), = list(loader)
    assert all(shared.values()) and storages == 1
    assert list(batch) == list(in_main)
    for key, value in in_main.items():
        assert batch[key].dtype == value.dtype and torch.equal(batch[key], value), key
        assert batch[key].is_contiguous()
    assert len({v.untyped_storage().data_ptr() for v in batch.values()}) == 1  # one storage in the main process too


def test_decode_clip_hands_over_decords_buffer_intact():
    """decode_clip takes decord's batch through DLPack instead of copying it: same frames as ``asnumpy()``, a
    writable uint8 array that outlives the reader."""
    import gc
    import io

    import decord

    y, x = np.mgrid[0:64, 0:96]
    mp4 = encode_mp4(np.stack([np.stack([(x * 3 + i) % 256, y * 4 % 256, (x + y + 5 * i) % 256], -1)
                               for i in range(10)]).astype(np.uint8), 25.0)
    frames = decode_clip(mp4, [1, 4, 9])
    gc.collect()
    _ = [decode_clip(mp4) for _ in range(3)]  # reuse of freed buffers would overwrite a dangling view
    expected = decord.VideoReader(io.BytesIO(mp4), ctx=decord.cpu(0), num_threads=1).get_batch([1, 4, 9]).asnumpy()
    assert frames.dtype == np.uint8 and frames.shape == (3, 64, 96, 3) and frames.flags.writeable
    assert np.array_equal(frames, expected)
