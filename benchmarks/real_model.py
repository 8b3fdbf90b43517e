"""On paper: Qwen3-VL-4B stage 2 (LoRA) on one 80 GB GPU, from the model's configuration (no weights needed).

    python -m benchmarks.real_model [--config benchmarks/configs/qwen3_vl_4b.json] [--mfu 0.35]

Parameter counts come from the model built on the ``meta`` device from ``configs/qwen3_vl_4b.json`` (the published
config.json). Tokens per subclip: video tokens from the real processor's ``smart_resize`` (as ``python -m vanguard
backbone info`` computes them), the whole sequence (timestamps, prompt, JSON answer) measured by running the real
4B processor and tokenizer (``../shared/fixtures/qwen3vl_4b_instruct``) on a 320x240 subclip, or, without those
files, the tiny backbone's (the same vision geometry; its BPE, trained on the project's own prompts, counts 13
text tokens fewer than Qwen's).

Estimates (per sample, bf16 base, LoRA r=16 on the 7 LM projections, vision tower frozen):
- FLOPs: vision forward 2*N_vision*patches; LM forward 2*N_lm*T + attention 4*L*T^2*H_q; backward of a frozen base
  with LoRA = activation gradients only, about one more forward; activation checkpointing recomputes one forward.
- step time = FLOPs / (peak bf16 dense x MFU).
- memory = bf16 weights + LoRA/head fp32 master weights, grads and AdamW states (16 B/param) + activations: per
  token per layer the tensors autograd keeps (norms, q/k/v, attention output, gate/up/act/product of the MLP, LoRA
  dropout copies) in bf16, or with checkpointing only each layer's input plus one layer recomputed; plus the logits
  at the answer's positions only (``vanguard.backbone.causal_lm_forward``; bf16 logits + fp32 upcast + fp32 gradient
  = 10 B per vocabulary entry per answer token). HF's default computes them at every position; the figures for
  that are in the notes (``benchmarks/memory.py`` measures the difference on the tiny model with a 151,936-row
  vocabulary).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import ROOT, cli_main, row

GPUS = {"H100 80GB SXM": 989e12, "A100 80GB": 312e12}  # dense bf16 peak FLOP/s
LORA_R = 16


QWEN_FILES = ROOT.parent / "shared" / "fixtures" / "qwen3vl_4b_instruct"  # the model card's tokenizer and processors


def sequence_tokens(num_frames: int, frame_pixels: int, work: Path) -> tuple[int, int]:
    """(whole training sequence length, answer tokens the loss reads) of one 320x240 subclip with its answer, via
    the real Qwen3-VL-4B-Instruct processor and tokenizer where their files are (``QWEN_FILES``), else the tiny
    backbone's (the same vision geometry; its BPE, trained on the project's prompts, counts a few tokens fewer)."""
    import numpy as np

    from benchmarks.common import tiny_backbone
    from tests.helpers.shards import _meta
    from vanguard.processing import SubclipEncoder

    files = str(QWEN_FILES) if (QWEN_FILES / "config.json").is_file() else tiny_backbone(work, "unit")
    enc = SubclipEncoder(files, frame_pixels)
    meta = _meta("v", "train", list(range(0, 6 * num_frames, 6)), 30.0, 320, 240, "Fighting", (40, 30, 120, 200))
    frames = np.zeros((num_frames, 240, 320, 3), np.uint8)
    item = enc.encode(frames, 30.0, meta["frame_indices"], target=meta["answer"])
    return int(item["input_ids"].shape[0]), int((item["labels"] != -100).sum())


def estimate(config: str, num_frames: int, frame_pixels: int, batch: int, mfu: float, work: Path) -> dict:
    import torch
    from transformers import AutoConfig, AutoModelForImageTextToText

    from vanguard.processing import video_tokens as subclip_video_tokens

    cfg = AutoConfig.from_pretrained(config)
    t, v = cfg.text_config, cfg.vision_config
    with torch.device("meta"):
        model = AutoModelForImageTextToText.from_config(cfg)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    n_total, n_vision = count(model), count(model.model.visual)
    n_embed = t.vocab_size * t.hidden_size
    n_lm = count(model.model.language_model) - n_embed  # matmul parameters of the decoder layers
    video_tokens, (h, w) = subclip_video_tokens(v, num_frames, 240, 320, frame_pixels)
    patches = video_tokens * v.spatial_merge_size**2
    seq, answer = sequence_tokens(num_frames, frame_pixels, work)
    hq, hkv = t.num_attention_heads * t.head_dim, t.num_key_value_heads * t.head_dim
    hid, inter, layers = t.hidden_size, t.intermediate_size, t.num_hidden_layers
    lora_per_layer = LORA_R * (2 * (hid + hq) + 2 * (hid + hkv) + 3 * (hid + inter))
    n_lora = lora_per_layer * layers
    # FLOPs per sample
    vision = 2 * n_vision * patches
    attention = 4 * layers * seq**2 * hq
    lm_fwd = 2 * n_lm * seq + 2 * n_embed * answer + attention  # lm_head (the tied embedding) at the answer only
    lm_fwd_every = lm_fwd + 2 * n_embed * (seq - answer)  # HF's default: lm_head at every position
    flops = {ac: vision + lm_fwd * (3 if ac else 2) for ac in (False, True)}
    # activation bytes per token (bf16)
    per_layer = 2 * (5 * hid + 2 * hq + 2 * hkv + 4 * inter + (5 * hid + hq + inter))
    logits = 10 * t.vocab_size * answer / seq  # per token of the sequence, so that seq * act is per sample
    act = {False: layers * per_layer + logits, True: layers * 2 * hid + per_layer + logits}
    every = 10 * t.vocab_size - logits  # what logits at every position would add, per token
    fixed = 2 * n_total + 16 * (n_lora + 2 * hid * 256)  # bf16 weights + fp32 LoRA/head training state
    out = {"params": n_total, "vision": n_vision, "lora": n_lora, "resized": (w, h), "video_tokens": video_tokens,
           "seq": seq, "answer": answer, "fixed_gb": fixed / 1e9,
           "every_gb_per_sample": seq * every / 1e9, "every_flops_ratio": lm_fwd_every / lm_fwd}
    for ac in (False, True):
        out[f"mem_gb_ac{int(ac)}"] = (fixed + batch * seq * act[ac]) / 1e9
        out[f"gb_per_sample_ac{int(ac)}"] = seq * act[ac] / 1e9
        for gpu, peak in GPUS.items():
            out[f"step_s_ac{int(ac)}_{gpu}"] = batch * flops[ac] / (peak * mfu)
    return out


def measure(quick: bool = False, config: str = str(ROOT / "benchmarks/configs/qwen3_vl_4b.json"), mfu: float = 0.35,
            work: str | None = None) -> list[dict]:
    import tempfile

    work_dir = Path(work or tempfile.mkdtemp(prefix="vanguard_bench_"))
    settings = [(16, 320 * 240, 8)] if quick else [(16, 320 * 240, 8), (16, 128 * 128, 16), (32, 320 * 240, 4)]
    rows, name = [], "real_model (estimate)"
    for frames, pixels, batch in settings:
        e = estimate(config, frames, pixels, batch, mfu, work_dir)
        tag = f"{frames} frames <= {pixels} px, batch {batch}"
        print(f"# {tag}: {e['params'] / 1e9:.2f} B parameters ({e['vision'] / 1e6:.0f} M vision), LoRA r={LORA_R} "
              f"{e['lora'] / 1e6:.1f} M; frames resized to {e['resized'][0]}x{e['resized'][1]}, "
              f"{e['video_tokens']} video tokens, {e['seq']} tokens per sample", flush=True)
        rows.append(row(name, f"tokens per subclip ({frames} frames <= {pixels} px)", e["seq"], unit="tokens",
                        note=f"{e['video_tokens']} video tokens, frames resized to {e['resized'][0]}x{e['resized'][1]}; "
                             f"{e['answer']} answer tokens"))
        for ac in (1, 0):
            label = "with activation checkpointing" if ac else "no activation checkpointing"
            rows.append(row(name, f"memory per GPU, {tag}, {label}", e[f"mem_gb_ac{ac}"], "<= 80", "GB",
                            f"{e['fixed_gb']:.1f} GB weights + training state, {e[f'gb_per_sample_ac{ac}']:.2f} GB "
                            f"activations per sample; logits at every position (HF's default) would add "
                            f"{e['every_gb_per_sample']:.2f} GB per sample"))
        for gpu in GPUS:
            rows.append(row(name, f"step time, {tag}, checkpointing, {gpu}", e[f"step_s_ac1_{gpu}"], unit="s",
                            note=f"MFU {mfu:.0%}; without checkpointing {e[f'step_s_ac0_{gpu}']:.2f} s; logits at every "
                                 f"position (HF's default) would add {e['every_flops_ratio'] - 1:.0%} to the LM's FLOPs"))
    return rows


def add_args(ap) -> None:
    ap.add_argument("--config", default=str(ROOT / "benchmarks/configs/qwen3_vl_4b.json"))
    ap.add_argument("--mfu", type=float, default=0.35, help="assumed model FLOP utilisation")
    ap.add_argument("--work", default=None)


if __name__ == "__main__":
    cli_main(measure, __doc__.splitlines()[0], add_args)
