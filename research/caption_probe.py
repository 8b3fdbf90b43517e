"""What the caption-pretrained backbone says about the test subclips: does its language model see the anomaly?

    python -m research.caption_probe [--backbone models/synthcrime-tiny-qwen3vl] [--data outputs/demo/data/synthcrime]
                                     [--length 16 --stride 8 --num-frames 8 --min-fraction 0.25] [--limit 0]

The demo caption-pretrains its tiny backbone (``python -m vanguard backbone pretrain``) on videos of a split of
their own before the curriculum starts. This probe asks that backbone the pretraining question
(``vanguard.pretrain.CAPTION_QUESTION``) about every subclip of the test split, cut and labelled by the demo's
windowing (``vanguard.data.subclips``) and encoded as pretraining encodes its clips (source frames, the subclip's
own clock, the backbone's pixel budget), and reads what it writes (greedy, like the stages' generation).

The anomaly vocabulary comes from the data, not from a hand-written list: the words that the train split's captions
(UCA-style sentences, ``vanguard.pretrain_targets.what_happens`` of each window: what pretraining trains on) use in
anomalous windows and never in any caption of a normal video. Rows:

- how many distinct captions, and distinct first sentences, the model writes over the test subclips;
- the fraction of its captions holding an anomaly word, on anomalous and on normal subclips;
- the subclip ROC-AUC of the number of anomaly words in its caption (0.5 when no caption holds one);
- the same ROC-AUC for the reference captions of the same windows: what this score reaches when a caption does say
  what happens (the check that the vocabulary tells the labels apart).

``--quick`` builds a unit-size backbone and a 12-video SynthCrime itself (the smoke test's mode).
"""

from __future__ import annotations

import re
import time
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.common import DEMO_PIXELS, cli_main, quick_synthcrime, row, tiny_backbone
from research.handcrafted_probe import add_data_args

BENCH = "caption_probe"


def words(text: str | None) -> list[str]:
    return re.findall(r"[a-z]+", (text or "").lower())


def labelled_windows(records, config) -> list[tuple]:
    """``(record, window, label, reference caption)`` of every window of ``records``, in order: the demo's windowing
    and labels, and the caption pretraining would train on for that window."""
    from vanguard.data.subclips import window_label, windows
    from vanguard.pretrain_targets import what_happens

    return [(rec, win, window_label(win, rec.intervals or [], config.min_fraction),
             what_happens(rec, list(win.frame_indices), config.min_fraction))
            for rec in records for win in windows(rec.num_frames, config)]


def anomaly_vocabulary(records, config) -> set[str]:
    """Words the captions of anomalous windows use and no caption of a normal video does (``records``: a split)."""
    from vanguard.categories import NORMAL

    normal = {w for rec in records if rec.category == NORMAL for c in rec.captions for w in words(c.sentence)}
    anomalous = {w for _, _, label, caption in labelled_windows(records, config) if label for w in words(caption)}
    return anomalous - normal


def generate_captions(backbone: str, items: list[tuple], batch: int, max_new_tokens: int) -> list[str]:
    """The backbone's greedy caption of each window (videos decoded once each, in the items' order)."""
    import torch
    from tqdm import tqdm

    from vanguard.backbone import Backbone
    from vanguard.pretrain import CAPTION_QUESTION
    from vanguard.processing import collate
    from vanguard.video import decode_clip

    model = Backbone(backbone, frame_pixels=DEMO_PIXELS, pooling="prompt").eval()
    pad = model.tokenizer.pad_token_id
    path, frames = None, None  # items come video by video: the current video's frames, decoded once
    captions: list[str] = []
    for i in tqdm(range(0, len(items), batch), desc="captions", unit="batch", disable=None):
        encoded = []
        for rec, win, _, _ in items[i : i + batch]:
            if rec.path != path:
                path, frames = rec.path, decode_clip(rec.path)
            idx = list(win.frame_indices)
            encoded.append(model.encoder.encode(frames[idx], float(rec.fps), idx, question=CAPTION_QUESTION,
                                                normalize=False))
        with torch.no_grad():
            captions += model.generate(collate(encoded, pad, padding_side="left"), max_new_tokens=max_new_tokens)
    return captions


def measure(quick: bool = False, backbone: str = "models/synthcrime-tiny-qwen3vl", data: str = "outputs/demo/data/synthcrime",
            length: int = 16, stride: int = 8, num_frames: int = 8, min_fraction: float = 0.25, limit: int = 0,
            batch: int = 16, max_new_tokens: int = 48, work: str | None = None) -> list[dict]:
    from sklearn.metrics import roc_auc_score

    from vanguard.data.catalog import load_catalog
    from vanguard.data.subclips import WindowConfig

    if quick:
        folder = Path(work or "outputs/bench/caption_probe")
        backbone, data, limit, max_new_tokens = tiny_backbone(folder), quick_synthcrime(folder), 32, 8
    config = WindowConfig(length=length, stride=stride, num_frames=num_frames, min_fraction=min_fraction)
    vocabulary = anomaly_vocabulary(load_catalog(data, "synthcrime", "train"), config)
    if not vocabulary:
        raise ValueError(f"{data}: the train captions have no word that only anomalies use")
    items = labelled_windows(load_catalog(data, "synthcrime", "test"), config)
    if 0 < limit < len(items):  # a random subset, kept in video order (each video is decoded once)
        items = [items[i] for i in sorted(np.random.default_rng(0).choice(len(items), limit, replace=False))]
    labels = np.asarray([label for _, _, label, _ in items])
    if len(set(labels.tolist())) < 2:
        raise ValueError(f"{data}: the test windows need both labels")
    start = time.perf_counter()
    captions = generate_captions(backbone, items, batch, max_new_tokens)
    seconds = time.perf_counter() - start
    count = np.asarray([sum(w in vocabulary for w in words(c)) for c in captions])
    reference = np.asarray([sum(w in vocabulary for w in words(ref)) for _, _, _, ref in items])
    firsts = Counter(c.split(".")[0].strip() for c in captions)
    top = "; ".join(f"{n}x {s!r}" for s, n in firsts.most_common(3))
    where = f"{len(items)} test subclips ({labels.sum()} anomalous), {seconds:.0f} s of generation"
    return [
        row(BENCH, "distinct captions", len(set(captions)), note=where),
        row(BENCH, "distinct first sentences", len(firsts), note=f"most written: {top}"),
        row(BENCH, "anomalous subclips whose caption holds an anomaly word", (count[labels == 1] > 0).mean(),
            note=f"{len(vocabulary)} anomaly words from the train captions, e.g. {', '.join(sorted(vocabulary)[:12])}"),
        row(BENCH, "normal subclips whose caption holds an anomaly word", (count[labels == 0] > 0).mean()),
        row(BENCH, "test subclip ROC-AUC of the anomaly words in the model's caption", roc_auc_score(labels, count)),
        row(BENCH, "test subclip ROC-AUC of the anomaly words in the reference caption", roc_auc_score(labels, reference),
            note="the same score on the windows' UCA-style captions: what it reaches when a caption says what happens"),
    ]


def add_args(ap) -> None:
    ap.add_argument("--backbone", default="models/synthcrime-tiny-qwen3vl", help="the caption-pretrained backbone directory")
    add_data_args(ap)
    ap.add_argument("--limit", type=int, default=0, help="caption this many random test subclips (0: all)")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--max-new-tokens", dest="max_new_tokens", type=int, default=48)


def main() -> None:
    cli_main(measure, __doc__.splitlines()[0], add_args)


if __name__ == "__main__":
    main()
