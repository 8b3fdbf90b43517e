"""One video of the world: a scene, its passers-by and traffic, maybe one anomaly, rendered; plus its ground truth.

Every video draws its number of people and its traffic from the same distributions whatever its label, so counting
objects or motion says little about it; an anomaly's actors take their places from the same people budget.

Two difficulties (:data:`DIFFICULTIES`):

- ``hard``: look-alike normal behaviours (:mod:`.lookalikes`: meetings, crouching at a prop, a car stopping, a
  blinking sign) and joggers reproduce the anomalies' first phases, so one 1.3 s subclip carries limited evidence
  (~0.70 frame-level ROC-AUC for any per-subclip reference). A research setting; the same bytes per seed as before
  the setting existed.
- ``clear`` (the demo's default): no look-alikes and no joggers, and every anomaly's interval starts at its first
  visible phase (flames, not the crouch before them), so every anomalous subclip shows its event and no normal
  behaviour reproduces one. Single-frame statistics still do not give the label away (``tests/data``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vanguard.categories import NORMAL
from vanguard.data.synthcrime.agents import Cast, traffic, wander
from vanguard.data.synthcrime.anomalies import PEOPLE_USED, SCENES_FOR, SCRIPTS, Ctx
from vanguard.data.synthcrime.lookalikes import add_normal_behaviours
from vanguard.data.synthcrime.render import render, sample_look
from vanguard.data.synthcrime.scenes import make_scene


@dataclass
class Domain:
    """How a camera network looks: resolution, frame rate, length, zoom, palettes and scene kinds."""

    name: str
    width: int
    height: int
    fps: float
    seconds: tuple[float, float]
    zoom: float
    palettes: tuple[str, ...]
    scene_kinds: tuple[str, ...]
    categories: tuple[str, ...]


SYNTHCRIME = Domain(
    "synthcrime",
    160,
    120,
    12.0,
    (12.0, 16.0),
    1.0,
    ("day", "day", "dusk"),
    ("street", "parking", "plaza", "shop"),
    ("Fighting", "Robbery", "RoadAccidents", "Explosion", "Arson", "Vandalism", "Shooting"),
)
XD_STYLE = Domain(
    "xd_violence",
    192,
    108,
    24.0,
    (7.0, 9.0),
    1.25,
    ("night", "film"),
    ("street", "highway", "parking", "plaza"),
    ("Fighting", "Shooting", "RoadAccidents", "Explosion"),
)
SHT_STYLE = Domain(
    "shanghaitech",
    176,
    112,
    15.0,
    (9.0, 11.0),
    0.85,
    ("overcast",),
    ("campus", "plaza"),
    ("Fighting", "Robbery", "Vandalism", "Arson"),
)
DOMAINS = {d.name: d for d in (SYNTHCRIME, XD_STYLE, SHT_STYLE)}
DIFFICULTIES = ("clear", "hard")


@dataclass
class Video:
    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    category: str
    scene: str
    interval: tuple[int, int] | None  # inclusive frames of the anomaly
    boxes: dict[int, list[tuple[float, float, float, float]]] = field(default_factory=dict)  # frame -> pixel boxes
    captions: list[tuple[float, float, str]] = field(default_factory=list)  # seconds
    people: int = 0
    cars: int = 0


def make_video(
    domain: Domain,
    category: str,
    seed: np.random.SeedSequence,
    scene_seed: np.random.SeedSequence | None = None,
    scene_kind: str | None = None,
    difficulty: str = "hard",
) -> Video:
    """Generate one video of ``category`` (or Normal). ``scene_seed`` fixes the background (one camera, many
    videos, as in ShanghaiTech); otherwise the scene is the video's own. ``difficulty``: see the module's doc."""
    if difficulty not in DIFFICULTIES:
        raise ValueError(f"unknown SynthCrime difficulty {difficulty!r}; expected one of {DIFFICULTIES}")
    clear = difficulty == "clear"
    rng = np.random.default_rng(seed)
    scene_rng = np.random.default_rng(scene_seed) if scene_seed is not None else rng
    if scene_kind is None:
        kinds = (
            domain.scene_kinds if category == NORMAL else [k for k in domain.scene_kinds if k in SCENES_FOR[category]]
        )
        # one fixed camera: its kind comes from the camera's seed (every category of such a domain fits every kind)
        scene_kind = str(scene_rng.choice(domain.scene_kinds if scene_seed is not None else kinds))
        if scene_kind not in kinds:
            raise ValueError(f"{category} cannot happen in a {scene_kind} scene of domain {domain.name}")
    scene = make_scene(scene_rng, scene_kind, domain.width, domain.height, domain.zoom)
    fps = domain.fps
    T = int(round(rng.uniform(*domain.seconds) * fps))
    cast = Cast()
    ctx = Ctx(rng, scene, T, fps, cast)
    people = int(rng.integers(4, 8))
    event = None
    if category != NORMAL:
        dur = int(round(rng.uniform(0.26, 0.38) * T))
        a = int(rng.integers(int(0.2 * T), int(0.8 * T) - dur))
        event = SCRIPTS[category](ctx, a, a + dur - 1)
        if clear:
            event.start = max(event.start, event.visible_from)
        people -= PEOPLE_USED[category]
    if not clear:  # the hard world's look-alikes; the clear world gives their people to passers-by
        people = add_normal_behaviours(ctx, max(0, people))
    for _ in range(max(0, people)):
        jogger = rng.random() < 0.2
        p, caps = wander(rng, scene, T, fps, start=0, jogger=jogger and not clear)
        cast.people.append(p)
        cast.captions += caps
    # traffic pauses (a red light) in every road video; an accident happens in such a pause
    gaps = []
    if scene.has_road:
        if event is not None and event.category == "RoadAccidents":
            gaps.append((event.start - int(5 * fps), event.end + int(2 * fps)))
        elif rng.random() < 0.6:
            g0 = int(rng.integers(0, T))
            gaps.append((g0, g0 + int(rng.uniform(0.3, 0.45) * T)))
        cars, caps = traffic(rng, scene, T, fps, gaps)
        cast.cars += cars
        cast.captions += caps
    frames = render(scene, cast, T, fps, domain_look(rng, domain), rng)
    video = Video(frames, fps, category, scene_kind, None, people=len(cast.people), cars=len(cast.cars))
    if event is not None:
        video.interval, video.boxes = _ground_truth(event, T, scene.width, scene.height)
    video.captions = _captions(cast.captions, fps, T)
    return video


def domain_look(rng: np.random.Generator, domain: Domain):
    return sample_look(rng, str(rng.choice(domain.palettes)))


def _ground_truth(event, T: int, w: int, h: int):
    """The event's inclusive interval and a box list for every frame of it (a frame whose subjects are all out of
    sight keeps the previous frame's boxes; the interval is trimmed to frames with boxes at its ends)."""
    start, end = max(0, event.start), min(T - 1, event.end)
    boxes = {t: event.boxes(t, w, h) for t in range(start, end + 1)}
    with_boxes = [t for t, b in boxes.items() if b]
    if not with_boxes:
        raise RuntimeError(f"{event.category}: no visible subject in frames {start}..{end}")
    start, end = with_boxes[0], with_boxes[-1]
    out, last = {}, None
    for t in range(start, end + 1):
        last = boxes[t] or last
        out[t] = last
    return (start, end), out


def _captions(caps: list[tuple[int, int, str]], fps: float, T: int, limit: int = 10):
    """Caption segments in seconds, sorted by start; the script's own sentences always kept, passers-by capped."""
    seen, out = set(), []
    for t0, t1, text in caps:
        if text in seen or t1 < t0:
            continue
        seen.add(text)
        out.append((round(max(0, t0) / fps, 1), round(min(T - 1, t1) / fps, 1), text))
    out = out[:limit] if len(out) > limit else out
    return sorted(out)
