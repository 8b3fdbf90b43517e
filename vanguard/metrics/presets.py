"""Every peer's evaluation protocol, as its code runs it: the presets of ``python -m vanguard evaluate --protocol``.

This module owns the protocol definitions; :func:`vanguard.metrics.protocols.evaluate_frame_scores` applies one.
A protocol is, per dataset, a :class:`GroundTruthRule` (interval ends, frame count, truncation or padding to whole
16-frame snippets, what labels pad a mask) plus the score side (which crop of a multi-crop peer file, any
re-weighting of the frame scores) and the metric variant its paper calls "AP". The rules were read from the peers'
scripts (repository paths in :attr:`Protocol.sources`) and are checked against their shipped ground-truth files in
``tests/metrics/test_presets.py``; ``docs/protocols.md`` measures how much each moves the figures.

Interval ends are stated against the numbers in the annotation file: UCF-Crime's ``Temporal_Anomaly_Annotation.txt``
pair ``s e`` (RTFM marks ``s..e``, VadCLIP and PEL4VAD ``s..e-1``) and XD-Violence's ``annotations.txt`` pair
(XDVioDet marks ``gt[s:e]``, LAVAD's ``start <= i <= end`` keeps ``e`` too). ShanghaiTech masks are per frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from vanguard.data.annotations import VideoAnnotation
from vanguard.errors import ConfigError

SNIPPET = 16
#: how each dataset's reader stores the file's interval end (vanguard.metrics.ground_truth): UCF-Crime and masks
#: as read (inclusive), XD-Violence's ``s e`` as ``(s, e - 1)`` (the XD authors' ``gt[s:e]``)
READER_END = {"ucf_crime": "inclusive", "xd_violence": "exclusive", "shanghaitech": "inclusive", "synthcrime": "inclusive"}


@dataclass(frozen=True)
class GroundTruthRule:
    """How one peer builds one dataset's frame labels.

    Args:
        end: ``inclusive`` (the file's end frame is anomalous), ``exclusive`` (it is not) or ``as_read`` (the
            dataset reader's convention: UCF-Crime inclusive, XD-Violence exclusive, masks per frame).
        length: ``auto``: a peer's snippet scores give ``snippets x 16`` frames, our frame scores the native count
            when the annotation knows it (else the score length); ``scores``: always the (expanded) score length,
            cut to whole snippets by ``snippets`` when the scores are per frame; ``native``: the native count
            (the score length when no count is known; recorded in metrics.json).
        snippets: for per-frame scores under ``length="scores"``: ``floor`` (``n // 16 * 16``, RTFM/VadCLIP on
            UCF-Crime), ``floor_after_one`` (``(n - 1) // 16 * 16``, XDVioDet's ``make_gt.py``), ``ceil``
            (``ceil(n / 16) * 16``, RTFM's ``make_gt_sh.py``) or ``none``.
        pad: labels past the annotated length: ``zeros`` or ``last_label`` (RTFM pads ShanghaiTech masks with
            their last label).
    """

    end: Literal["as_read", "inclusive", "exclusive"] = "as_read"
    length: Literal["auto", "scores", "native"] = "auto"
    snippets: Literal["none", "floor", "floor_after_one", "ceil"] = "none"
    pad: Literal["zeros", "last_label"] = "zeros"


@dataclass(frozen=True)
class Protocol:
    """One preset: per-dataset ground-truth rules, the crop a peer scores, score re-weighting, the AP variant."""

    name: str
    summary: str  # one line: what differs from the default (the --help line)
    rules: dict[str, GroundTruthRule]
    sources: dict[str, str] = field(default_factory=dict)  # dataset -> owner/repo@commit:path of the rule
    ap: Literal["ap_pr_auc", "ap_step"] = "ap_pr_auc"
    crop: dict[str, int] = field(default_factory=dict)  # dataset -> the only crop scored; absent = crop mean
    weighting: Literal["none", "vera_centre"] = "none"

    def rule(self, dataset: str) -> GroundTruthRule:
        if dataset not in self.rules:
            raise ConfigError(f"protocol {self.name!r} has no rule for {dataset!r} (it covers {sorted(self.rules)}); "
                              f"presets for {dataset}: {', '.join(p.name for p in PRESETS.values() if dataset in p.rules)}")
        return self.rules[dataset]


_RTFM_UCF = GroundTruthRule("inclusive", "scores", "floor")
_EXCLUSIVE_UCF = GroundTruthRule("exclusive", "scores", "floor")
_XDVIODET = GroundTruthRule("exclusive", "scores", "floor_after_one")
_RTFM_SHT = GroundTruthRule("inclusive", "scores", "ceil", "last_label")
_DEFAULT = GroundTruthRule()

PRESETS: dict[str, Protocol] = {p.name: p for p in (
    Protocol("default", "this project's: native frames (snippets x 16 for a peer's snippets), UCF ends inclusive, "
             "XD ends exclusive, SHT masks padded with 0; reports both AP variants",
             {"ucf_crime": _DEFAULT, "xd_violence": _DEFAULT, "shanghaitech": _DEFAULT, "synthcrime": _DEFAULT}),
    Protocol("rtfm", "RTFM: snippets x 16 frames, UCF ends inclusive, XD as XDVioDet, SHT masks padded to whole "
             "snippets with their last label; AP = trapezoid PR-AUC",
             {"ucf_crime": _RTFM_UCF, "xd_violence": _XDVIODET, "shanghaitech": _RTFM_SHT},
             {"ucf_crime": "tianyu0207/RTFM@cf938f4c:list/make_gt_ucf.py, test_10crop.py",
              "xd_violence": "Roc-Ng/XDVioDet:list/make_gt.py (RTFM evaluates XD on its gt)",
              "shanghaitech": "tianyu0207/RTFM@cf938f4c:list/make_gt_sh.py"}),
    Protocol("urdmu", "UR-DMU: RTFM's UCF ground truth (gt-ucf.npy) and XDVioDet's XD one; AP = trapezoid PR-AUC",
             {"ucf_crime": _RTFM_UCF, "xd_violence": _XDVIODET},
             {"ucf_crime": "henrryzh1/UR-DMU:ucf_test.py (RTFM's gt-ucf.npy)", "xd_violence": "henrryzh1/UR-DMU:xd_test.py"}),
    Protocol("vadclip", "VadCLIP: UCF ends exclusive, snippets x 16; one crop only (UCF __5, XD __0); "
             "AP = average_precision_score",
             {"ucf_crime": _EXCLUSIVE_UCF, "xd_violence": _XDVIODET},
             {"ucf_crime": "nwpu-zxr/VadCLIP:list/make_gt_ucf.py, src/ucf_test.py",
              "xd_violence": "nwpu-zxr/VadCLIP:list/make_gt_xd.py, src/xd_test.py"},
             ap="ap_step", crop={"ucf_crime": 5, "xd_violence": 0}),
    Protocol("pel4vad", "PEL4VAD: its shipped UCF arrays end intervals exclusively, snippets x 16; XD as XDVioDet; "
             "AP = trapezoid PR-AUC",
             {"ucf_crime": _EXCLUSIVE_UCF, "xd_violence": _XDVIODET},
             {"ucf_crime": "yujiangpu20/PEL4VAD@eeb31f4c:list/ucf/single_gt/, test.py",
              "xd_violence": "yujiangpu20/PEL4VAD:test.py (XDVioDet's gt)"}),
    Protocol("xdviodet", "XDVioDet (the XD-Violence authors'): ends exclusive, (frames - 1) cut to whole snippets; "
             "AP = trapezoid PR-AUC",
             {"xd_violence": _XDVIODET}, {"xd_violence": "Roc-Ng/XDVioDet:list/make_gt.py, test.py"}),
    Protocol("lavad", "LAVAD: native frames, start <= frame <= end on the file's numbers (XD too), one score per "
             "16 frames repeated and cut to the native length; AP = trapezoid PR-AUC",
             {"ucf_crime": GroundTruthRule("inclusive", "native"), "xd_violence": GroundTruthRule("inclusive", "native")},
             {"ucf_crime": "lucazanella/lavad@49c478aa:src/eval.py", "xd_violence": "lucazanella/lavad@49c478aa:src/eval.py"}),
    Protocol("vera", "VERA: native frames, ends exclusive, scores multiplied by a Gaussian centred mid-video with "
             "sigma half its length (a position prior); AP = trapezoid PR-AUC",
             {"ucf_crime": GroundTruthRule("exclusive", "native"), "xd_violence": GroundTruthRule("exclusive", "native")},
             {"ucf_crime": "vera-framework/VERA@64ad74b8:compute_auc.py",
              "xd_violence": "vera-framework/VERA@0a6aaa33:compute_auc_XD_Violence.py"},
             weighting="vera_centre"),
)}


def get_protocol(name: str) -> Protocol:
    if name not in PRESETS:
        raise ConfigError(f"unknown protocol {name!r}; presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def preset_lines() -> str:
    """One line per preset (``evaluate --help``)."""
    return "\n".join(f"  {p.name:<9} {p.summary}" for p in PRESETS.values())


def _cut(n: int, snippets: str) -> int:
    if snippets == "floor":
        return n // SNIPPET * SNIPPET
    if snippets == "floor_after_one":
        return max(n - 1, 0) // SNIPPET * SNIPPET
    if snippets == "ceil":
        return -(-n // SNIPPET) * SNIPPET
    return n


def label_length(ann: VideoAnnotation, n_scores: int, rule: GroundTruthRule, per_snippet: bool) -> tuple[int, str]:
    """(frames of ground truth for this video, where the count came from)."""
    if rule.length == "native" or (rule.length == "auto" and not per_snippet):
        if ann.num_frames is not None:
            return ann.num_frames, "native"
        return n_scores, "scores (native count unknown)"
    if per_snippet:
        return n_scores, "snippets x 16"
    return _cut(n_scores, rule.snippets), f"frames cut to whole snippets ({rule.snippets})"


def frame_labels(ann: VideoAnnotation, n: int, rule: GroundTruthRule, dataset: str) -> np.ndarray:
    """0/1 per frame for ``n`` frames under ``rule`` (the peer's interval end and padding)."""
    shift = {("inclusive", "exclusive"): -1, ("exclusive", "inclusive"): 1}.get((READER_END.get(dataset, "inclusive"), rule.end), 0)
    if dataset == "shanghaitech" or rule.end == "as_read":
        shift = 0  # masks are per frame: no interval end to read
    labels = np.zeros(n, dtype=np.uint8)
    for start, end in ann.intervals:
        labels[max(0, start) : max(0, min(n, end + 1 + shift))] = 1
    known = ann.num_frames
    if rule.pad == "last_label" and known is not None and n > known and any(e >= known - 1 for _, e in ann.intervals):
        labels[known:] = 1
    return labels


def reweight(scores: np.ndarray, protocol: Protocol) -> np.ndarray:
    """VERA's ``gaussian_smoothing``: each frame's score times ``exp(-((i - n//2) / sigma)^2 / 2)``, sigma ``n//2``
    (not a convolution: a window centred mid-video; sigma at least 1 so a 1-frame video stays finite)."""
    if protocol.weighting == "none":
        return scores
    n = len(scores)
    centre, sigma = n // 2, max(n // 2, 1)
    return scores * np.exp(-0.5 * ((np.arange(n) - centre) / sigma) ** 2)
