"""``report.md`` / ``report.html`` for a run directory, and the HTML explanation page of one video.

Both are built as a list of blocks (heading, paragraph, table, image, preformatted text) rendered twice: to
Markdown and to HTML. Every piece of text that reaches HTML goes through ``html.escape`` — model output (reasoning,
raw answers, box labels) is untrusted and must never become markup.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from vanguard.answer import INVALID_REASONS
from vanguard.data.annotations import VideoAnnotation
from vanguard.io import write_text
from vanguard.metrics.answers import invalid_answer_rates
from vanguard.metrics.grounding import grounding_metrics
from vanguard.metrics.protocols import NOTES, coverage_warning, evaluate_frame_scores, fit_length
from vanguard.metrics.scores import load_frame_scores, video_id
from vanguard.report import plots
from vanguard.report.events import event_counts
from vanguard.report.predictions import (
    GROUND_TRUTH_FILE,
    PREDICTIONS_DIR,
    Event,
    SubclipPrediction,
    VideoPredictions,
    file_stem,
    load_ground_truth_json,
    read_predictions,
)


@dataclass
class Block:
    kind: str  # h1 | h2 | p | table | img | pre
    text: str = ""
    rows: list[list[str]] | None = None  # table: first row is the header
    src: str = ""  # img: path relative to the page


def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            out.append(("# " if b.kind == "h1" else "## ") + b.text.replace("\n", " "))
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "pre":
            out.append("```text\n" + b.text.replace("```", "'''") + "\n```")
        elif b.kind == "img":
            out.append(f"![{_md_cell(b.text)}]({b.src})")
        elif b.kind == "table" and b.rows:
            head, *body = b.rows
            out.append("\n".join(["| " + " | ".join(map(_md_cell, head)) + " |", "|" + "---|" * len(head)]
                                 + ["| " + " | ".join(map(_md_cell, r)) + " |" for r in body]))
    return "\n\n".join(out) + "\n"


_CSS = (
    "body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
    "pre{background:#f6f6f6;padding:8px;white-space:pre-wrap}figure{display:inline-block;margin:6px}"
    "figcaption{font-size:12px;max-width:480px}img{max-width:100%}"
)


def url(path: str) -> str:
    """A relative file path as a URL: ``#``, ``?``, ``%`` and spaces are legal in file names (every XD-Violence name
    holds ``#``) but would cut or change a link, so everything but ``/`` is percent-quoted."""
    return quote(path, safe="/")


def to_html(blocks: list[Block], title: str, links: dict[int, list[str]] | None = None) -> str:
    """``links``: {column: [file path per body row]} turns that column of the (first) table into links. Image
    sources and links are file paths relative to the page; they are quoted here (:func:`url`)."""
    e = html.escape
    links = links or {}
    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(title)}</title><style>{_CSS}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2", "p", "pre"):
            out.append(f"<{b.kind}>{e(b.text)}</{b.kind}>")
        elif b.kind == "img":
            out.append(f"<figure><img src='{e(url(b.src))}' alt='{e(b.text)}'><figcaption>{e(b.text)}</figcaption></figure>")
        elif b.kind == "table" and b.rows:
            head, *body = b.rows
            out.append("<table><tr>" + "".join(f"<th>{e(str(c))}</th>" for c in head) + "</tr>")
            out += ["<tr>" + "".join(
                f"<td><a href='{e(url(links[j][i]))}'>{e(str(c))}</a></td>" if j in links else f"<td>{e(str(c))}</td>"
                for j, c in enumerate(r)) + "</tr>" for i, r in enumerate(body)]
            out.append("</table>")
    out.append("</body></html>")
    return "\n".join(out)


def _fmt(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "n/a"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _keyframe(video: VideoPredictions, sub: SubclipPrediction, predictions_dir: Path) -> np.ndarray | None:
    """The subclip's keyframe: its saved PNG, else decoded from the source video, else None."""
    if sub.keyframe_png and (predictions_dir / sub.keyframe_png).is_file():
        import matplotlib.image as mpimg

        img = mpimg.imread(predictions_dir / sub.keyframe_png)
        return (img[..., :3] * 255).astype(np.uint8) if img.dtype != np.uint8 else img[..., :3]
    if video.path and sub.keyframe is not None and Path(video.path).is_file():
        from vanguard.video import VideoDecodeError, decode_clip

        try:
            return decode_clip(video.path, [sub.keyframe])[0]
        except (VideoDecodeError, IndexError, RuntimeError):
            return None
    return None


def _caption(sub: SubclipPrediction) -> str:
    return f"{sub.video_id} {sub.start_s:.1f}-{sub.end_s:.1f}s score {sub.score:.2f} {sub.category}"


# ---- the run report ------------------------------------------------------------------------------------------------
def render_run_report(
    run_dir: str | Path,
    annotations: list[VideoAnnotation] | None = None,
    out_dir: str | Path | None = None,
    max_examples: int = 8,
) -> dict[str, Path]:
    """Write ``report.md`` and ``report.html`` (+ ``figures/``) for a run directory; returns their paths."""
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir else run_dir / "report"
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    videos = read_predictions(run_dir)
    if annotations is None and (run_dir / GROUND_TRUTH_FILE).is_file():
        annotations = load_ground_truth_json(run_dir / GROUND_TRUTH_FILE)
    scores_path = next((p for p in (run_dir / "frame_scores.npz", run_dir / "scores.json") if p.is_file()), None)
    scores = load_frame_scores(scores_path) if scores_path else {v.video_id: v.frame_scores() for v in videos}
    metrics = json.loads((run_dir / "metrics.json").read_text()) if (run_dir / "metrics.json").is_file() else {}
    if not metrics and annotations and scores:
        metrics = evaluate_frame_scores(scores, annotations, allow_missing=True)

    blocks = [Block("h1", f"VANGUARD report: {run_dir.name}")]
    warning = coverage_warning(metrics.get("coverage")) if metrics else None
    if warning:  # the figures below describe a subset of the test set: say so before any of them
        blocks.append(Block("p", warning))
    if metrics:
        notes = {**NOTES, **(metrics.get("notes") or {})}
        rows = [["metric", "value", "definition"]]
        rows += [[k, _fmt(v), notes.get(k, "")] for k, v in metrics.items() if isinstance(v, (int, float)) or v is None]
        blocks += [Block("h2", "Frame-level protocol (pooled over the test set)"), Block("table", rows=rows)]
        if metrics.get("per_category_auc"):
            rows = [["category", "frame AUC (its videos + all normal videos)"]]
            rows += [[c, _fmt(v)] for c, v in metrics["per_category_auc"].items()]
            blocks += [Block("h2", "Per-category AUC"), Block("table", rows=rows)]
    if annotations and scores:
        ann = [a for a in annotations if video_id(a.video_id) in scores]
        if ann:
            s = np.concatenate([fit_length(scores[video_id(a.video_id)], a.num_frames or len(scores[video_id(a.video_id)])) for a in ann])
            y = np.concatenate([a.frame_labels(a.num_frames or len(scores[video_id(a.video_id)])) for a in ann])
            if 0 < y.sum() < len(y):
                plots.roc_pr_curves(s, y, figs / "roc.png", figs / "pr.png")
                blocks += [Block("h2", "ROC and PR curves"), Block("img", "frame-level ROC", src="figures/roc.png"),
                           Block("img", "frame-level PR", src="figures/pr.png")]

    events = metrics.get("events") or (event_counts(videos, annotations) if annotations and videos else None)
    if events:
        rows = [["count", "value"]] + [[k, str(v)] for k, v in events.items()]
        blocks += [Block("h2", "Events against the ground truth"),
                   Block("p", "events_on_gt: events overlapping a ground-truth interval; false_alarm_events: events "
                              "on normal videos; gt_intervals_found: intervals overlapped by an event."),
                   Block("table", rows=rows)]
    generation = metrics.get("generation") or {}
    checks = [k for k in ("head_disagreements", "anomalous_without_box", "repetition_rate") if k in generation]
    if checks:
        blocks += [Block("h2", "One decision, readable text (each should be 0)"),
                   Block("table", rows=[["check", "value"]] + [[k, _fmt(generation[k])] for k in checks])]

    subclips = [s for v in videos for s in v.subclips]
    if subclips:
        rates = invalid_answer_rates(reasons=[s.parse_reason for s in subclips])
        counts = Counter(s.parse_reason for s in subclips)
        rows = [["reason", "count", "rate"], ["(all invalid)", str(sum(n for r, n in counts.items() if r)), _fmt(rates["invalid_rate"])]]
        rows += [[r, str(counts[r]), _fmt(rates[f"invalid_rate/{r}"])] for r in INVALID_REASONS if counts[r]]
        blocks += [Block("h2", f"Invalid answers ({len(subclips)} subclips)"), Block("table", rows=rows)]
        if rates["invalid_rate"] > 0:
            plots.bar_chart({r: rates[f"invalid_rate/{r}"] for r in INVALID_REASONS if counts[r]}, figs / "invalid.png", "invalid answers by reason")
            blocks.append(Block("img", "invalid answers by reason", src="figures/invalid.png"))
        with_gt = [s for s in subclips if s.gt_boxes is not None]
        if with_gt:
            g = grounding_metrics(([(b.x1, b.y1, b.x2, b.y2) for b in s.boxes], [(b.x1, b.y1, b.x2, b.y2) for b in s.gt_boxes]) for s in with_gt)
            blocks += [Block("h2", "Grounding"), Block("table", rows=[["metric", "value"]] + [[k, _fmt(v)] for k, v in g.items()])]
        blocks += _grounding_examples(videos, run_dir / PREDICTIONS_DIR, figs, max_examples)

    md, page = out / "report.md", out / "report.html"
    write_text(md, to_markdown(blocks))
    write_text(page, to_html(blocks, f"VANGUARD report: {run_dir.name}"))
    return {"markdown": md, "html": page}


def _grounding_examples(videos: list[VideoPredictions], pred_dir: Path, figs: Path, limit: int) -> list[Block]:
    candidates = sorted(
        ((v, s) for v in videos for s in v.subclips if s.boxes or s.gt_boxes), key=lambda vs: -vs[1].score
    )
    blocks = []
    for v, s in candidates:
        if len(blocks) >= limit:
            break
        image = _keyframe(v, s, pred_dir)
        if image is None:
            continue
        name = f"ground_{len(blocks):02d}.png"
        plots.keyframe_with_boxes(image, figs / name, s.boxes, s.gt_boxes or (), title=_caption(s))
        blocks.append(Block("img", _caption(s) + " (red: predicted, dashed green: ground truth)", src=f"figures/{name}"))
    return [Block("h2", "Grounding examples"), *blocks] if blocks else []


# ---- the explanation page of one video -----------------------------------------------------------------------------
def event_line(event: Event) -> str:
    """One line for an event: category, time span, scores."""
    return (f"{event.category}, {event.start_s:.1f}-{event.end_s:.1f} s, peak score {event.peak_score:.2f}, "
            f"mean {event.mean_score:.2f} ({event.subclips} subclip{'s' if event.subclips != 1 else ''})")


def _event_blocks(video: VideoPredictions, files: Path, pred_dir: Path, max_keyframes: int) -> list[Block]:
    if not video.events:
        return [Block("p", f"No event: no subclip reached the threshold {video.threshold:g}.")]
    blocks = []
    for i, e in enumerate(video.events, 1):
        blocks.append(Block("h2", f"Event {i}: {event_line(e)}"))
        sub = SubclipPrediction(video.video_id, e.start_frame, e.end_frame, e.start_s, e.end_s, e.peak_score,
                                e.category, e.boxes, keyframe=e.keyframe, keyframe_png=e.keyframe_png)
        image = _keyframe(video, sub, pred_dir) if i <= max_keyframes else None
        if image is not None:
            name = f"event_{i:02d}.png"
            caption = f"event {i}: {e.category} at {e.start_s:.1f}-{e.end_s:.1f} s (keyframe {e.keyframe}, boxes in red)"
            plots.keyframe_with_boxes(image, files / name, e.boxes, title=caption)
            blocks.append(Block("img", caption, src=f"{files.name}/{name}"))
        blocks.append(Block("pre", e.reasoning or "(no reasoning generated)"))
    return blocks


def render_video_page(
    video: VideoPredictions,
    out_dir: str | Path,
    annotation: VideoAnnotation | None = None,
    predictions_dir: str | Path | None = None,
    max_keyframes: int = 12,
) -> Path:
    """``<out_dir>/<video_id>.html`` with its figures in ``<video_id>_files/``: the events first (keyframe with
    boxes, reasoning; a timeline with the events marked and the ground truth shaded), the subclip table below.
    ``max_keyframes``: the most events drawn with their keyframe."""
    out = Path(out_dir)
    files = out / f"{file_stem(video.video_id)}_files"
    files.mkdir(parents=True, exist_ok=True)
    pred_dir = Path(predictions_dir) if predictions_dir else out
    scores = video.frame_scores()
    intervals = annotation.intervals if annotation is not None else ()
    plots.score_timeline(scores, video.fps, files / "timeline.png", intervals, title=video.video_id,
                         events=[(e.start_s, e.end_s, e.category) for e in video.events], threshold=video.threshold)
    n = len(video.events)
    blocks = [
        Block("h1", f"{video.video_id}"),
        Block("p", f"{n} event{'s' if n != 1 else ''} (subclips scored at or above {video.threshold:g}, merged) in "
                   f"{video.num_frames / video.fps:.1f} s of video ({video.num_frames} frames at {video.fps:g} fps, "
                   f"{video.width}x{video.height}); max score {scores.max():.3f}."
                   + (" Ground truth shaded in red on the timeline." if intervals else "")),
        Block("img", "anomaly score over time, events marked", src=f"{files.name}/timeline.png"),
        *_event_blocks(video, files, pred_dir, max_keyframes),
        Block("h2", f"Subclips ({len(video.subclips)})"),
        Block("table", rows=[["time (s)", "frames", "score", "category", "boxes", "answer", "reasoning"]] + [
            [f"{s.start_s:.1f}-{s.end_s:.1f}", f"{s.start_frame}-{s.end_frame}", f"{s.score:.3f}", s.category,
             "; ".join(f"{b.label} [{b.x1:.0f}, {b.y1:.0f}, {b.x2:.0f}, {b.y2:.0f}]" for b in s.boxes),
             "-" if not s.raw_text else ("valid" if s.parse_reason is None else f"invalid: {s.parse_reason}"),
             s.reasoning or ""]
            for s in video.subclips
        ]),
    ]
    page = out / f"{video.video_id}.html"
    write_text(page, to_html(blocks, video.video_id))
    return page


def render_index(out_dir: str | Path, videos: list[VideoPredictions], pages: list[Path]) -> Path:
    """``index.html``: every video with its events, linking to its page."""
    rows = [["video", "seconds", "peak score", "events"]]
    links = []
    for video, page in zip(videos, pages, strict=True):
        peak = max((s.score for s in video.subclips), default=0.0)
        events = "; ".join(f"{i}. {event_line(e)}" for i, e in enumerate(video.events, 1)) or "none"
        rows.append([video.video_id, f"{video.num_frames / video.fps:.1f}", f"{peak:.2f}", events])
        links.append(Path(page).name)
    page = Path(out_dir) / "index.html"
    write_text(page, to_html([Block("h1", "VANGUARD explanations"), Block("table", rows=rows)], "VANGUARD explanations",
                             links={0: links}))
    return page
