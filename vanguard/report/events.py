"""Explanations are events: consecutive flagged subclips of a video merged into what happened, when and why.

A subclip is flagged when its score reaches the decision threshold (:mod:`vanguard.decision`). Flagged subclips
that follow each other in time (sorted by start; no unflagged subclip and no gap between them) form one
:class:`vanguard.report.predictions.Event`: its start and end (the first subclip's start, the last one's end),
peak and mean score, and one representative subclip (the highest-scored one that has a text; the highest-scored
one when none has) that gives the event its category, keyframe, boxes and reasoning, so the four agree.

:func:`event_counts` counts events against temporal ground truth, for the test report.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from vanguard.data.annotations import VideoAnnotation
from vanguard.report.predictions import Event, SubclipPrediction, VideoPredictions


def _groups(subclips: Sequence[SubclipPrediction], threshold: float) -> list[list[SubclipPrediction]]:
    groups: list[list[SubclipPrediction]] = []
    previous: SubclipPrediction | None = None
    for s in sorted(subclips, key=lambda s: (s.start_frame, s.end_frame)):
        if s.score >= threshold:
            touching = previous is not None and previous.score >= threshold and s.start_frame <= previous.end_frame + 1
            if touching:
                groups[-1].append(s)
            else:
                groups.append([s])
        previous = s
    return groups


def merge_events(subclips: Sequence[SubclipPrediction], threshold: float = 0.5) -> list[Event]:
    """The events of one video's subclips (in time order)."""
    events = []
    for group in _groups(subclips, threshold):
        with_text = [s for s in group if s.raw_text]
        rep = max(with_text or group, key=lambda s: s.score)
        events.append(Event(
            start_frame=group[0].start_frame,
            end_frame=max(s.end_frame for s in group),
            start_s=group[0].start_s,
            end_s=max(s.end_s for s in group),
            category=rep.category,
            peak_score=round(max(s.score for s in group), 6),
            mean_score=round(sum(s.score for s in group) / len(group), 6),
            subclips=len(group),
            keyframe=rep.keyframe,
            keyframe_png=rep.keyframe_png,
            boxes=list(rep.boxes),
            reasoning=rep.reasoning,
        ))
    return events


def with_events(video: VideoPredictions, threshold: float) -> VideoPredictions:
    """The video with its events merged at ``threshold`` (recorded beside them)."""
    video.threshold = float(threshold)
    video.events = merge_events(video.subclips, threshold)
    return video


def _overlaps(event: Event, intervals: Iterable[tuple[int, int]]) -> bool:
    return any(event.start_frame <= e and s <= event.end_frame for s, e in intervals)


def event_counts(videos: Sequence[VideoPredictions], annotations: Sequence[VideoAnnotation]) -> dict:
    """Events against temporal ground truth (videos without an annotation are left out).

    ``events``: all events; ``events_on_gt``: events overlapping a ground-truth interval; ``false_alarm_events``:
    events on normal videos (no interval); ``events_elsewhere``: events on anomalous videos that overlap no interval;
    ``gt_intervals`` / ``gt_intervals_found``: intervals, and those overlapped by at least one event;
    ``normal_videos`` / ``normal_videos_with_events``."""
    known = {a.video_id: a for a in annotations}
    out = dict.fromkeys(("videos", "events", "events_on_gt", "false_alarm_events", "events_elsewhere",
                         "gt_intervals", "gt_intervals_found", "normal_videos", "normal_videos_with_events"), 0)
    for v in videos:
        ann = known.get(v.video_id)
        if ann is None:
            continue
        out["videos"] += 1
        out["events"] += len(v.events)
        intervals = [tuple(iv) for iv in ann.intervals]
        if not intervals:
            out["normal_videos"] += 1
            out["false_alarm_events"] += len(v.events)
            out["normal_videos_with_events"] += bool(v.events)
            continue
        on_gt = sum(_overlaps(e, intervals) for e in v.events)
        out["events_on_gt"] += on_gt
        out["events_elsewhere"] += len(v.events) - on_gt
        out["gt_intervals"] += len(intervals)
        out["gt_intervals_found"] += sum(any(_overlaps(e, [iv]) for e in v.events) for iv in intervals)
    return out
