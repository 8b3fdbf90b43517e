"""QwenTeacher on the reduced real-file model: the annotation teacher's batch (several subclips, left padding with
the real tokenizer, the real template and processor) generates and is judged like the real teacher's would be."""

from __future__ import annotations

import json

import numpy as np

from tests.annotate.test_teacher import _context
from vanguard.annotate.teacher import REJECT_REASONS, QwenTeacher


def test_qwen_teacher_on_the_real_files(reduced_dir):
    teacher = QwenTeacher(str(reduced_dir), max_new_tokens=8, max_retries=0, batch_size=2, frame_pixels=64 * 64)
    rng = np.random.default_rng(0)
    contexts = []
    for i, (label, size) in enumerate([(1, (64, 96)), (0, (48, 64))]):  # two sizes: two prompt lengths
        ctx = _context(f"v{i}-0000000", label=label)
        ctx.frames = rng.integers(0, 255, size=(8, *size, 3), dtype=np.uint8)
        contexts.append(ctx)
    results = teacher.annotate(contexts)
    tok = teacher.processor.tokenizer
    assert len(tok) == 151_669 and tok.padding_side == "left" and tok.pad_token_id == 151643
    assert teacher.processor.video_processor.cap_pixels_per_frame is False
    assert teacher.processor.chat_template == json.loads((reduced_dir / "chat_template.json").read_text())["chat_template"]
    for r in results:  # random weights cannot write the teacher's schema in 8 tokens
        assert r.answer is None and r.reason in REJECT_REASONS and r.attempts == 1
