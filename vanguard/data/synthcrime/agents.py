"""People and cars: per-frame tracks (position, pose, visibility) and how to draw them.

A track is a set of arrays over the video's frames, filled by the background simulation (:func:`wander`,
:func:`traffic`) or by an anomaly script; drawing reads one frame of them. Positions are floats in pixels: a
person's ``(x, y)`` is the point between the feet, a car's is its centre.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vanguard.data.synthcrime.scenes import Scene

# poses
WALK, STAND, RUN, FIGHT, FALLEN, CROUCH, STRIKE, AIM, CHASE, TALK = range(10)
MOVING = (WALK, RUN, CHASE)

COLORS = {  # caption name -> RGB
    "red": (200, 40, 40),
    "blue": (40, 70, 200),
    "green": (40, 150, 60),
    "yellow": (220, 200, 40),
    "white": (235, 235, 235),
    "black": (25, 25, 30),
    "orange": (230, 120, 30),
    "purple": (130, 50, 160),
    "gray": (128, 128, 128),
    "brown": (120, 75, 40),
}
SKINS = [(230, 190, 160), (200, 150, 110), (150, 100, 70), (100, 65, 45)]
CAR_COLORS = ["red", "blue", "white", "black", "gray", "yellow", "green"]


def fill(img: np.ndarray, x0: float, y0: float, x1: float, y1: float, color) -> None:
    """Fill a pixel rectangle, clipped to the frame."""
    h, w = img.shape[:2]
    a, b = max(0, int(x0 + 0.5)), min(w, int(x1 + 0.5))  # round half up (coordinates may be slightly negative)
    c, d = max(0, int(y0 + 0.5)), min(h, int(y1 + 0.5))
    if b > a and d > c:
        img[c:d, a:b] = color


def clip_box(box, w: int, h: int):
    """Clip ``(x0, y0, x1, y1)`` to the frame; None when less than 2 px remain in either direction."""
    x0, y0, x1, y1 = max(0.0, box[0]), max(0.0, box[1]), min(float(w), box[2]), min(float(h), box[3])
    return (x0, y0, x1, y1) if x1 - x0 >= 2 and y1 - y0 >= 2 else None


@dataclass
class Person:
    x: np.ndarray
    y: np.ndarray
    pose: np.ndarray
    visible: np.ndarray
    color_name: str
    noun: str
    scale: float
    step: float  # leg phase per frame (radians), from the frame rate
    shirt: tuple = (0, 0, 0)
    pants: tuple = (40, 40, 60)
    skin: tuple = SKINS[0]
    bag: tuple | None = None
    bag_on: np.ndarray | None = None
    facing: np.ndarray | None = None  # +1 right, -1 left

    @classmethod
    def new(cls, rng: np.random.Generator, T: int, scale: float, fps: float, color: str | None = None) -> Person:
        name = color or str(rng.choice(list(COLORS)))
        pants = tuple(int(v) for v in rng.choice([(40, 40, 60), (30, 30, 30), (90, 80, 60), (60, 70, 110)]))
        p = cls(
            np.zeros(T, np.float32),
            np.zeros(T, np.float32),
            np.zeros(T, np.int8),
            np.zeros(T, bool),
            name,
            str(rng.choice(["man", "woman", "person"], p=[0.5, 0.3, 0.2])),
            scale * rng.uniform(0.92, 1.08),
            2 * np.pi * 1.8 / fps,
            shirt=tuple(int(np.clip(c + rng.integers(-15, 16), 0, 255)) for c in COLORS[name]),
            pants=pants,
            skin=SKINS[int(rng.integers(len(SKINS)))],
        )
        p.facing = np.ones(T, np.int8)
        if rng.random() < 0.35:  # many people carry a bag, so a bag never marks the robbery victim
            p.bag = tuple(int(v) for v in rng.choice([(90, 50, 20), (20, 20, 20), (160, 30, 90)]))
            p.bag_on = np.ones(T, bool)
        return p

    @property
    def caption_name(self) -> str:
        return f"{self.noun} in {self.color_name}"

    def size(self) -> tuple[float, float]:
        return 10 * self.scale, 25 * self.scale

    def box(self, t: int) -> tuple[float, float, float, float]:
        s, x, y, pose = self.scale, float(self.x[t]), float(self.y[t]), int(self.pose[t])
        if pose == FALLEN:
            return x - 13 * s, y - 6 * s, x + 13 * s, y
        top = y - (18 if pose == CROUCH else 25) * s
        reach = 9 * s if pose in (FIGHT, STRIKE, AIM, CHASE, TALK) else 5 * s
        return x - reach, top - (3 * s if pose in (STRIKE, CHASE) else 0), x + reach, y

    def draw(self, img: np.ndarray, t: int) -> None:
        if not self.visible[t]:
            return
        s, x, y, pose = self.scale, float(self.x[t]), float(self.y[t]), int(self.pose[t])
        face = int(self.facing[t]) if self.facing is not None else 1
        if pose == FALLEN:  # lying on the ground, head towards ``face``
            fill(img, x - 11 * s, y - 5 * s, x - 2 * s, y - 1 * s, self.pants)
            fill(img, x - 3 * s, y - 6 * s, x + 8 * s, y, self.shirt)
            hx = x + 8 * s if face > 0 else x - 16 * s
            fill(img, hx, y - 5 * s, hx + 5 * s, y, self.skin)
            return
        leg_h = 4 * s if pose == CROUCH else 9 * s
        torso_h = 9 * s if pose == CROUCH else 10 * s
        speed = {WALK: 1.0, RUN: 1.9, CHASE: 1.6}.get(pose, 0.0)
        stride = np.sin(t * self.step * speed) * (2.5 if pose in (RUN, CHASE) else 1.6) * s if speed else 0.0
        fill(img, x - 3 * s + stride, y - leg_h, x - 1 * s + stride, y, self.pants)
        fill(img, x + 1 * s - stride, y - leg_h, x + 3 * s - stride, y, self.pants)
        t0 = y - leg_h - torso_h  # shoulder row
        fill(img, x - 4 * s, t0, x + 4 * s, y - leg_h + 1, self.shirt)
        fill(img, x - 3 * s, t0 - 6 * s, x + 3 * s, t0, self.skin)
        fill(img, x - 3 * s, t0 - 6 * s, x + 3 * s, t0 - 4.5 * s, (40, 30, 25))  # hair
        arm = tuple(int(c * 0.8) for c in self.shirt)
        if pose == FIGHT:  # flailing: both arms out at a height that changes every frame
            for k, side in enumerate((face, -face)):
                dy = ((t * 3 + k * 5) % 7) * s
                x0 = x + side * 4 * s
                fill(img, min(x0, x0 + side * 6 * s), t0 + dy - 1 * s, max(x0, x0 + side * 6 * s), t0 + dy + 1 * s, arm)
        elif pose == STRIKE:  # one arm raised, then swung down onto the target, every 3 frames
            x0 = x + face * 4 * s
            if (t // 3) % 2 == 0:
                fill(img, min(x0, x0 + face * 2 * s), t0 - 9 * s, max(x0, x0 + face * 2 * s), t0 + 1 * s, arm)
            else:
                fill(img, min(x0, x0 + face * 8 * s), t0 + 3 * s, max(x0, x0 + face * 8 * s), t0 + 5 * s, arm)
        elif pose == AIM:
            x0 = x + face * 4 * s
            fill(img, min(x0, x0 + face * 8 * s), t0 + 1 * s, max(x0, x0 + face * 8 * s), t0 + 3 * s, arm)
            fill(
                img,
                min(x0 + face * 8 * s, x0 + face * 10 * s),
                t0,
                max(x0 + face * 8 * s, x0 + face * 10 * s),
                t0 + 2 * s,
                (20, 20, 20),
            )
        elif pose == CHASE:  # arms up, shouting
            fill(img, x - 6 * s, t0 - 7 * s, x - 4 * s, t0 + 1 * s, arm)
            fill(img, x + 4 * s, t0 - 7 * s, x + 6 * s, t0 + 1 * s, arm)
        elif pose == TALK:  # one slow gesture
            up = (t // 8) % 2
            x0 = x + face * 4 * s
            fill(
                img,
                min(x0, x0 + face * 5 * s),
                t0 + (2 - 3 * up) * s,
                max(x0, x0 + face * 5 * s),
                t0 + (4 - 3 * up) * s,
                arm,
            )
            fill(
                img,
                x - face * 6 * s if face > 0 else x + 4 * s,
                t0,
                x - face * 4 * s if face > 0 else x + 6 * s,
                t0 + 8 * s,
                arm,
            )
        else:  # arms at the sides, swinging with the legs
            fill(img, x - 6 * s, t0 - stride * 0.3, x - 4 * s, t0 + 8 * s - stride * 0.3, arm)
            fill(img, x + 4 * s, t0 + stride * 0.3, x + 6 * s, t0 + 8 * s + stride * 0.3, arm)
        if self.bag is not None and self.bag_on is not None and self.bag_on[t]:
            bx = x + (5 if face > 0 else -9) * s
            fill(img, bx, t0 + 6 * s, bx + 4 * s, t0 + 11 * s, self.bag)


@dataclass
class Car:
    x: np.ndarray
    y: np.ndarray
    visible: np.ndarray
    direction: int
    color_name: str
    scale: float
    color: tuple = (0, 0, 0)
    hazard: np.ndarray | None = None
    crashed: np.ndarray | None = None

    @classmethod
    def new(cls, rng: np.random.Generator, T: int, scale: float, direction: int, color: str | None = None) -> Car:
        name = color or str(rng.choice(CAR_COLORS))
        c = tuple(int(np.clip(v + rng.integers(-15, 16), 0, 255)) for v in COLORS[name])
        return cls(np.zeros(T, np.float32), np.zeros(T, np.float32), np.zeros(T, bool), direction, name, scale, c)

    @property
    def caption_name(self) -> str:
        return f"{self.color_name} car"

    def box(self, t: int) -> tuple[float, float, float, float]:
        s, x, y = self.scale, float(self.x[t]), float(self.y[t])
        return x - 15 * s, y - 7 * s, x + 15 * s, y + 7 * s

    def draw(self, img: np.ndarray, t: int) -> None:
        if not self.visible[t]:
            return
        s, x, y, d = self.scale, float(self.x[t]), float(self.y[t]), self.direction
        fill(img, x - 12 * s, y + 4 * s, x - 7 * s, y + 7 * s, (15, 15, 15))  # wheels
        fill(img, x + 7 * s, y + 4 * s, x + 12 * s, y + 7 * s, (15, 15, 15))
        fill(img, x - 14 * s, y - 5 * s, x + 14 * s, y + 5 * s, self.color)
        cab = x - d * 2 * s
        fill(img, cab - 7 * s, y - 7 * s, cab + 7 * s, y - 1 * s, tuple(int(v * 0.55) for v in self.color))
        fill(img, cab - 5 * s, y - 6 * s, cab + 5 * s, y - 2 * s, (90, 110, 130))  # windows
        front = x + d * 14 * s
        fill(img, min(front, front - d * 2 * s), y - 3 * s, max(front, front - d * 2 * s), y + 0 * s, (250, 240, 170))
        fill(img, min(x - d * 14 * s, x - d * 12 * s), y - 3 * s, max(x - d * 14 * s, x - d * 12 * s), y, (170, 20, 20))
        if self.crashed is not None and self.crashed[t]:  # crumpled front
            fill(img, min(front, front - d * 6 * s), y - 5 * s, max(front, front - d * 6 * s), y + 5 * s, (60, 55, 50))
            fill(
                img, min(front, front - d * 3 * s), y - 6 * s, max(front, front - d * 3 * s), y - 3 * s, (150, 150, 150)
            )
        if self.hazard is not None and self.hazard[t] and (t // 3) % 2 == 0:
            for hx in (x - 14 * s, x + 12 * s):
                for hy in (y - 5 * s, y + 3 * s):
                    fill(img, hx, hy, hx + 2 * s, hy + 2 * s, (255, 160, 20))


@dataclass
class Cast:
    """Everything that moves or changes in one video."""

    people: list[Person] = field(default_factory=list)
    cars: list[Car] = field(default_factory=list)
    effects: list = field(default_factory=list)
    captions: list[tuple[int, int, str]] = field(default_factory=list)  # (first frame, last frame, sentence)


def lerp(arr_x, arr_y, t0: int, t1: int, p0, p1) -> None:
    """Move linearly from ``p0`` at frame ``t0`` to ``p1`` at frame ``t1`` (inclusive), writing into the arrays."""
    T = len(arr_x)
    t0c, t1c = max(0, t0), min(T - 1, t1)
    if t1c < t0c:
        return
    ts = np.arange(t0c, t1c + 1)
    f = (ts - t0) / max(1, t1 - t0)
    arr_x[t0c : t1c + 1] = p0[0] + (p1[0] - p0[0]) * f
    arr_y[t0c : t1c + 1] = p0[1] + (p1[1] - p0[1]) * f


def set_span(p: Person, t0: int, t1: int, pose: int, face: int | None = None) -> None:
    T = len(p.x)
    a, b = max(0, t0), min(T, t1 + 1)
    if b > a:
        p.pose[a:b] = pose
        p.visible[a:b] = True
        if face is not None:
            p.facing[a:b] = face


def walk_segment(p: Person, t0: int, p0, p1, speed: float, pose: int = WALK) -> int:
    """Walk from ``p0`` to ``p1`` at ``speed`` px/frame from frame ``t0``; returns the arrival frame."""
    dist = float(np.hypot(p1[0] - p0[0], p1[1] - p0[1]))
    t1 = t0 + max(1, int(round(dist / max(speed, 1e-3))))
    lerp(p.x, p.y, t0, t1, p0, p1)
    set_span(p, t0, t1, pose, 1 if p1[0] >= p0[0] else -1)
    return t1


def hide_outside(p: Person, w: int, h: int) -> None:
    """A person whose box is entirely outside the frame is not visible."""
    for t in np.flatnonzero(p.visible):
        x0, y0, x1, y1 = p.box(int(t))
        if x1 < 0 or x0 > w or y1 < 0 or y0 > h:
            p.visible[t] = False


def wander(
    rng: np.random.Generator,
    scene: Scene,
    T: int,
    fps: float,
    start: int = 0,
    end: int | None = None,
    jogger: bool = False,
) -> tuple[Person, list[tuple[int, int, str]]]:
    """A passer-by: crosses the frame along a walk band, maybe pausing, re-entering after leaving.

    Returns the person and caption segments (one per crossing).
    """
    end = T if end is None else end
    s, w = scene.scale, scene.width
    p = Person.new(rng, T, s, fps)
    caps = []
    t = start
    first = True
    while t < end - 1:
        band = scene.walk_bands[int(rng.integers(len(scene.walk_bands)))]
        d = 1 if rng.random() < 0.5 else -1
        x0 = rng.uniform(0.05, 0.95) * w if first and start == 0 else (-8 * s if d > 0 else w + 8 * s)
        x1 = w + 8 * s if d > 0 else -8 * s
        y0, y1 = rng.uniform(*band), rng.uniform(*band)
        speed = (rng.uniform(22, 30) if jogger else rng.uniform(7, 16)) * s / fps
        pose = RUN if jogger else WALK
        t_start = t
        if not jogger and rng.random() < 0.35:  # pause somewhere on the way
            xm = x0 + (x1 - x0) * rng.uniform(0.2, 0.8)
            ym = y0 + (y1 - y0) * 0.5
            t = walk_segment(p, t, (x0, y0), (xm, ym), speed, pose)
            pause = int(rng.uniform(1, 3) * fps)
            lerp(p.x, p.y, t, t + pause, (xm, ym), (xm, ym))
            set_span(p, t, t + pause, STAND, d)
            t = walk_segment(p, t + pause, (xm, ym), (x1, y1), speed, pose)
        else:
            t = walk_segment(p, t, (x0, y0), (x1, y1), speed, pose)
        where = {1: "from left to right", -1: "from right to left"}[d]
        verb = "jogs quickly" if jogger else "walks"
        caps.append((t_start, min(t, T - 1), f"A {p.caption_name} {verb} {where} across the {scene.place}."))
        t += int(rng.uniform(0.3, 2.5) * fps)  # off screen for a while
        first = False
    p.visible[end:] = False
    hide_outside(p, scene.width, scene.height)
    return p, caps


def traffic(
    rng: np.random.Generator, scene: Scene, T: int, fps: float, gaps: list[tuple[int, int]] = ()
) -> tuple[list[Car], list[tuple[int, int, str]]]:
    """Cars driving along every lane, entering at random times; no car is on screen during ``gaps`` frames."""
    cars, caps = [], []
    s, w = scene.scale, scene.width
    for lane_y, d in scene.lanes:
        t = int(rng.uniform(-4, 3) * fps)
        while t < T:
            speed = rng.uniform(25, 50) * s / fps
            car = Car.new(rng, T, s, d)
            x0, x1 = (-16 * s, w + 16 * s) if d > 0 else (w + 16 * s, -16 * s)
            t1 = t + int(abs(x1 - x0) / speed)
            if not any(t <= g1 and t1 >= g0 for g0, g1 in gaps):
                lerp(car.x, car.y, t, t1, (x0, lane_y), (x1, lane_y))
                car.visible[max(0, t) : min(T, t1 + 1)] = True
                if car.visible.any():
                    cars.append(car)
                    where = "from left to right" if d > 0 else "from right to left"
                    caps.append((max(0, t), min(T - 1, t1), f"A {car.caption_name} drives {where} along the road."))
            t += int(rng.uniform(1.5, 6) * fps)
    return cars, caps
