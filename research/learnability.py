"""How much of SynthCrime's content can be learnt at all, in minutes of CPU: the ceiling the demo's figures sit under.

    python -m research.learnability [--model qwen3vl|vision|cnn] [--steps 500] [--batch 32] [--eval-every 100]
                                    [--pool max|mean|temporal|motion] [--shards outputs/demo/shards] [--backbone models/synthcrime-tiny-qwen3vl]

No curriculum, no LoRA, no text target: the train split's subclips (the demo's shards, decoded and subsampled by the
datamodule's own code) train a classifier on the anomaly label alone, and the test split's subclip ROC-AUC is
reported every ``eval_every`` steps, with the running training loss next to a constant predictor's.

- ``qwen3vl``: every weight of the backbone plus the classification head (``pooling=both``), end to end. This is
  the most the demo's model can take from these subclips in that many steps; the curriculum trains fewer weights
  for fewer steps.
- ``vision``: the same backbone's vision tower alone, every weight, its per-patch states pooled over the subclip
  (``--pool max`` or ``mean``) into a linear head: where in the model the anomaly signal is lost. ``--pool temporal``
  adds what changes between the subclip's temporal patches (``vanguard.backbone.temporal_max_per_subclip``),
  ``--pool motion`` the largest change at one patch position (:func:`local_motion_features`).
- ``cnn``: a three-layer 3D CNN trained from scratch on the same frames: a reference that owes nothing to the VLM.

Needs a built demo (``make demo`` writes outputs/demo/shards; the backbone is the committed models/synthcrime-tiny-qwen3vl). Not part of ``run_all.py``:
each arm takes 5-13 min on 2 cores at the defaults. ``--quick`` builds small test shards and a unit backbone
itself (the smoke test's mode).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from benchmarks.common import DEMO_FRAMES, DEMO_PIXELS, cli_main, real_shards, row, tiny_backbone

BENCH = "learnability"


def load_split(processor, shards: Path, split: str, encode: bool) -> tuple[list, np.ndarray, list[str]]:
    """Every valid subclip of ``split``, read by the datamodule's ``SubclipProcessor``: its model items
    (``encode``) or its subsampled frames (T, H, W, 3) uint8; the labels; the video categories."""
    from datamodules.streams import Skip, list_shards, shard_samples
    from vanguard.schema import SchemaError
    from vanguard.video import VideoDecodeError

    items, labels, categories = [], [], []
    for raw in shard_samples({"url": s} for s in list_shards(shards, split)):
        if isinstance(raw, Skip):  # an unreadable shard's tail
            print(f"[learnability] {split}: skipped {raw.key}: {raw.reason}")
            continue
        try:
            meta, frames = processor.read(raw)
        except (SchemaError, VideoDecodeError) as err:
            print(f"[learnability] {split}: skipped {raw.get('__key__')}: {err}")
            continue
        if encode:  # the datamodule's own encoding; the batch fields it adds are not model inputs
            item = processor.encode_frames(frames, meta)
            frames = {k: v for k, v in item.items() if k not in ("label", "category", "meta")}
        items.append(frames)
        labels.append(int(meta["label"]))
        categories.append(meta["category"])
    return items, np.asarray(labels), categories


class Clip3DCNN(nn.Module):
    """Three 3D convolutions and a global max pool: the from-scratch reference."""

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv3d(3, 16, (3, 5, 5), padding=(1, 2, 2), stride=(1, 2, 2)), nn.GELU(),
            nn.Conv3d(16, 32, 3, padding=1, stride=(1, 2, 2)), nn.GELU(),
            nn.Conv3d(32, 64, 3, padding=1, stride=2), nn.GELU(),
            nn.AdaptiveMaxPool3d(1), nn.Flatten(), nn.Linear(64, 1))

    def forward(self, frames: list[np.ndarray]) -> torch.Tensor:
        x = torch.from_numpy(np.stack(frames)).permute(0, 4, 1, 2, 3).float().div(255).sub(0.5)  # (B, 3, T, H, W)
        return self.net(x).squeeze(1)


class BackboneClassifier(nn.Module):
    """The project's Backbone and ClassificationHead, every weight trainable; the anomaly logit."""

    def __init__(self, backbone_path: str, num_frames: int, frame_pixels: int):
        super().__init__()
        from vanguard.backbone import Backbone
        from vanguard.stages.heads import ClassificationHead

        self.backbone = Backbone(backbone_path, num_frames=num_frames, frame_pixels=frame_pixels, pooling="both")
        self.head = ClassificationHead(self.backbone.feature_size)
        self.pad = self.backbone.tokenizer.pad_token_id

    def forward(self, items: list[dict]) -> torch.Tensor:
        from vanguard.processing import collate

        return self.head(self.backbone.features(collate(items, self.pad))).anomaly


VISION_POOLS = ("max", "mean", "temporal", "motion")  # the vision arm's poolings over a subclip's patch states


def local_motion_features(states: torch.Tensor, video_grid_thw: torch.Tensor) -> torch.Tensor:
    """Per subclip: the max over all its patch states, next to the largest change of any one patch position between
    consecutive temporal patches (``max_{t,p} |s[t+1,p] - s[t,p]|``). Unlike ``temporal_max_per_subclip``, whose
    change is between frame-wide maxima, this keeps a motion that one region makes while another holds the max.
    Patches are t-major and every temporal patch lists its positions in the same order."""
    feats = []
    for s, (t, h, w) in zip(states.split(video_grid_thw.prod(-1).tolist()), video_grid_thw.tolist()):
        s = s.view(t, h * w, -1)
        change = (s[1:] - s[:-1]).abs().amax((0, 1)) if t > 1 else torch.zeros_like(s[0, 0])
        feats.append(torch.cat([s.amax((0, 1)), change]))
    return torch.stack(feats)


class VisionTowerClassifier(nn.Module):
    """The backbone's vision tower alone (no merger, no language model): each subclip's per-patch states of the last
    vision block, pooled (element-wise max, or mean, over the subclip's patches; ``temporal``: the max and the
    largest change between temporal patches' maxima; ``motion``: the max and the largest change at one patch
    position) into a linear head."""

    def __init__(self, backbone_path: str, num_frames: int, frame_pixels: int, pool: str = "max"):
        super().__init__()
        from vanguard.backbone import Backbone

        if pool not in VISION_POOLS:
            raise ValueError(f"pool must be one of {VISION_POOLS}, got {pool!r}")
        whole = Backbone(backbone_path, num_frames=num_frames, frame_pixels=frame_pixels)
        self.backbone = whole.model.model.visual  # named backbone.*: the benchmark gives it the backbone's lr
        self.processor, self.pad, self.pool = whole.processor, whole.tokenizer.pad_token_id, pool
        width = self.backbone.config.hidden_size * (2 if pool in ("temporal", "motion") else 1)
        self.head = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 1))

    def forward(self, items: list[dict]) -> torch.Tensor:
        from vanguard.backbone import max_per_subclip, temporal_max_per_subclip
        from vanguard.processing import collate, normalize_patches

        batch = collate(items, self.pad)
        grid = batch["video_grid_thw"]
        patches = normalize_patches(batch["pixel_values_videos"], self.processor, torch.float32)
        states = self.backbone(patches, grid_thw=grid).last_hidden_state  # (patches of every subclip, width)
        if self.pool == "max":  # the Backbone's own vision pooling
            pooled = max_per_subclip(states, grid)
        elif self.pool == "temporal":
            pooled = temporal_max_per_subclip(states, grid)
        elif self.pool == "motion":
            pooled = local_motion_features(states, grid)
        else:
            pooled = torch.stack([s.mean(0) for s in states.split(grid.prod(-1).tolist())])
        return self.head(pooled).squeeze(1)


def constant_loss(labels: np.ndarray, pos_weight: float) -> float:
    """The weighted BCE of the best constant predictor on ``labels`` (what "learnt nothing" scores)."""
    p = float(np.mean(labels))
    q = pos_weight * p / (pos_weight * p + (1 - p))  # the minimiser of -(w p log q + (1 - p) log(1 - q))
    return float(-(pos_weight * p * np.log(q) + (1 - p) * np.log(1 - q)))


def per_category(scores: torch.Tensor, labels: np.ndarray, categories: list[str], where: str,
                 min_positives: int = 5) -> list[dict]:
    """ROC-AUC of each category's anomalous subclips against all normal ones (categories with enough of them)."""
    from torchmetrics.functional.classification import binary_auroc

    normal = labels == 0
    out = []
    for category in sorted(set(categories)):
        positive = (labels == 1) & (np.asarray(categories) == category)
        if positive.sum() < min_positives or not normal.any():
            continue
        keep = torch.from_numpy(positive | normal)
        auc = float(binary_auroc(scores[keep], torch.from_numpy(positive)[keep].long()))
        out.append(row(BENCH, f"test subclip ROC-AUC, {where}, {category} vs normal", auc,
                       note=f"{int(positive.sum())} anomalous vs {int(normal.sum())} normal subclips"))
    return out


def measure(quick: bool = False, model: str = "qwen3vl", steps: int = 500, batch: int = 32, eval_every: int = 100,
            lr: float = 5e-4, shards: str = "outputs/demo/shards", backbone: str = "models/synthcrime-tiny-qwen3vl",
            seed: int = 0, pool: str = "max", work: str | None = None) -> list[dict]:
    from torchmetrics.functional.classification import binary_auroc

    if model not in ("qwen3vl", "vision", "cnn"):
        raise ValueError(f"model must be 'qwen3vl', 'vision' or 'cnn', got {model!r}")
    if quick:
        work_dir = Path(work or "outputs/bench/learnability")
        shards = str(real_shards(work_dir, n_videos=4, clips=2, splits=("train", "test")))
        backbone = tiny_backbone(work_dir, "unit")
        steps, batch, eval_every = 2, 4, 1
    from datamodules.streams import SubclipProcessor

    torch.manual_seed(seed)
    if model == "qwen3vl":
        net = BackboneClassifier(backbone, DEMO_FRAMES, DEMO_PIXELS)
    elif model == "vision":
        net = VisionTowerClassifier(backbone, DEMO_FRAMES, DEMO_PIXELS, pool)
    else:
        net = Clip3DCNN()
    name = f"vision ({pool} pool)" if model == "vision" else model
    processor = SubclipProcessor(backbone, DEMO_PIXELS, DEMO_FRAMES, "none", with_target=False)
    start = time.perf_counter()
    train, y_train, _ = load_split(processor, Path(shards), "train", encode=model != "cnn")
    test, y_test, test_categories = load_split(processor, Path(shards), "test", encode=model != "cnn")
    if len(train) == 0 or len(set(y_test.tolist())) < 2:
        raise ValueError(f"{shards}: needs training subclips and both labels in the test split")
    load_s = time.perf_counter() - start
    pos_weight = float((y_train == 0).sum() / max(1, (y_train == 1).sum()))
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight))
    head_params = [p for n, p in net.named_parameters() if not n.startswith("backbone.")]
    body_params = [p for n, p in net.named_parameters() if n.startswith("backbone.")]
    groups = [{"params": head_params, "lr": max(lr, 1e-3)}] + ([{"params": body_params, "lr": lr}] if body_params else [])
    opt = torch.optim.AdamW(groups, weight_decay=0.01)
    gen = torch.Generator().manual_seed(seed)

    def test_scores() -> torch.Tensor:
        net.eval()
        with torch.no_grad():
            scores = torch.cat([net(test[i : i + 64]) for i in range(0, len(test), 64)])
        net.train()
        return scores

    curve, losses = [], []
    base = constant_loss(y_train, pos_weight)
    net.train()
    start = time.perf_counter()
    for step in range(1, steps + 1):
        idx = torch.randint(0, len(train), (batch,), generator=gen).tolist()
        loss = loss_fn(net([train[i] for i in idx]), torch.from_numpy(y_train[idx]).float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if step % eval_every == 0 or step == steps:
            scores, elapsed = test_scores(), time.perf_counter() - start
            auc = float(binary_auroc(scores, torch.from_numpy(y_test)))
            note = (f"train loss {np.mean(losses[-eval_every:]):.3f} (constant predictor {base:.3f}); "
                    f"{elapsed:.0f} s of training; {len(train)} train / {len(test)} test subclips")
            curve.append(row(BENCH, f"test subclip ROC-AUC, {name}, step {step} x {batch}", auc, note=note))
            print(f"[{name}] step {step}: test subclip ROC-AUC {auc:.3f}; {note}", flush=True)
    rows = curve + per_category(scores, y_test, test_categories, f"{name}, step {steps}")
    best = max(curve, key=lambda r: r["value"])
    rows.append(row(BENCH, f"test subclip ROC-AUC, {name}, best of {len(curve)} evaluations", best["value"],
                    note=f"at {best['metric'].rsplit(', ', 1)[1]}; the best is chosen on the test split itself, an "
                         f"optimistic ceiling; loading took {load_s:.0f} s"))
    return rows


def add_args(ap) -> None:
    ap.add_argument("--model", default="qwen3vl", choices=("qwen3vl", "vision", "cnn"))
    ap.add_argument("--pool", default="max", choices=VISION_POOLS, help="the vision arm's pooling over patches")
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--eval-every", dest="eval_every", type=int, default=100)
    ap.add_argument("--lr", type=float, default=5e-4, help="the backbone's learning rate (the head's is >= 1e-3)")
    ap.add_argument("--shards", default="outputs/demo/shards")
    ap.add_argument("--backbone", default="models/synthcrime-tiny-qwen3vl")
    ap.add_argument("--seed", type=int, default=0)


def main() -> None:
    cli_main(measure, __doc__.splitlines()[0], add_args)


if __name__ == "__main__":
    main()
