"""Things that are not agents: fire, blasts and smoke, damage to props, debris, muzzle flashes, blinking signs.

Each effect has ``layer`` (0: on the ground, under the agents; 1: over them), ``draw(img, t)`` and ``box(t)`` (the
pixel box of what is visible at frame ``t``, or None). Random flicker is drawn up front from the effect's own
generator, so a frame depends only on the seed.
"""

from __future__ import annotations

import numpy as np

from vanguard.data.synthcrime.agents import fill
from vanguard.data.synthcrime.scenes import Prop


def blend_disk(img: np.ndarray, cx: float, cy: float, rx: float, ry: float, color, alpha: float) -> None:
    """Alpha-blend a filled ellipse of ``color`` into ``img``."""
    h, w = img.shape[:2]
    x0, x1 = max(0, int(cx - rx)), min(w, int(cx + rx) + 1)
    y0, y1 = max(0, int(cy - ry)), min(h, int(cy + ry) + 1)
    if x1 <= x0 or y1 <= y0 or rx <= 0 or ry <= 0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1]
    m = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2) <= 1.0
    region = img[y0:y1, x0:x1].astype(np.float32)
    region[m] = region[m] * (1 - alpha) + np.asarray(color, np.float32) * alpha
    img[y0:y1, x0:x1] = region.astype(np.uint8)


class Fire:
    """Flickering flames at a base point, growing from ``t0`` to full size at ``t_full``, dying out by ``t1``."""

    layer = 1

    def __init__(
        self, rng: np.random.Generator, x: float, y: float, scale: float, t0: int, t_full: int, t1: int, T: int
    ):
        self.x, self.y, self.s, self.t0, self.t_full, self.t1 = x, y, scale, t0, t_full, t1
        self.flicker = rng.uniform(0.55, 1.25, (T, 6))
        self.offsets = rng.uniform(-1, 1, (T, 6))
        self.smoke = rng.uniform(-2, 2, (T, 2))

    def size(self, t: int) -> float:
        if t < self.t0 or t > self.t1:
            return 0.0
        grow = min(1.0, (t - self.t0 + 1) / max(1, self.t_full - self.t0))
        fade = min(1.0, (self.t1 - t + 1) / max(1.0, 0.15 * (self.t1 - self.t0)))
        return 11 * self.s * grow * fade

    def box(self, t: int):
        r = self.size(t)
        if r <= 0:
            return None
        return self.x - r, self.y - 2.6 * r, self.x + r, self.y + 1

    def draw(self, img: np.ndarray, t: int) -> None:
        r = self.size(t)
        if r <= 0:
            return
        blend_disk(img, self.x + self.smoke[t, 0], self.y - 2.6 * r, r * 0.9, r * 0.6, (70, 70, 70), 0.5)
        for k in range(6):  # tongues: red outside, orange, yellow core
            cx = self.x + self.offsets[t, k] * r * 0.7
            hgt = r * 1.9 * self.flicker[t, k]
            wid = max(1.0, r * 0.35)
            fill(img, cx - wid, self.y - hgt, cx + wid, self.y, (210, 50, 20))
            fill(img, cx - wid * 0.6, self.y - hgt * 0.75, cx + wid * 0.6, self.y, (250, 140, 20))
            fill(img, cx - wid * 0.3, self.y - hgt * 0.4, cx + wid * 0.3, self.y, (255, 230, 120))


class Blast:
    """An explosion at ``t0``: a white flash, a fireball, then grey smoke that grows, rises and thins out by ``t1``."""

    layer = 1

    def __init__(
        self, rng: np.random.Generator, x: float, y: float, scale: float, t0: int, t1: int, fps: float, T: int
    ):
        self.x, self.y, self.s, self.t0, self.t1 = x, y, scale, t0, t1
        self.flash_end = t0 + max(2, int(0.35 * fps))
        self.ball_end = self.flash_end + max(2, int(0.6 * fps))
        self.puffs = rng.uniform(-1, 1, (5, 2))
        self.wobble = rng.uniform(-1, 1, (T, 5))

    def _smoke(self, t: int):
        f = (t - self.flash_end) / max(1, self.t1 - self.flash_end)
        return 9 * self.s + 8 * self.s * f, f  # radius, progress

    def box(self, t: int):
        if t < self.t0 or t > self.t1:
            return None
        s = self.s
        if t <= self.flash_end:
            r = (5 + 14 * (t - self.t0 + 1) / max(1, self.flash_end - self.t0 + 1)) * s
            return self.x - r, self.y - r, self.x + r, self.y + r * 0.6
        r, f = self._smoke(t)
        top = self.y - r - 10 * s * f - 1.4 * r
        return self.x - 1.5 * r, top, self.x + 1.5 * r, self.y + 2 * s

    def draw(self, img: np.ndarray, t: int) -> None:
        if t < self.t0 or t > self.t1:
            return
        s = self.s
        if t <= self.flash_end:
            r = (5 + 14 * (t - self.t0 + 1) / max(1, self.flash_end - self.t0 + 1)) * s
            blend_disk(img, self.x, self.y - r * 0.2, r, r * 0.8, (255, 230, 150), 0.85)
            blend_disk(img, self.x, self.y - r * 0.2, r * 0.6, r * 0.5, (255, 255, 240), 1.0)
            return
        r, f = self._smoke(t)
        for k, (dx, dy) in enumerate(self.puffs):
            cx = self.x + dx * r * 0.7 + self.wobble[t, k]
            cy = self.y - r * 0.6 - 10 * s * f + dy * r * 0.5 - k * 0.25 * r
            shade = 60 + 40 * f + 8 * k
            blend_disk(img, cx, cy, r * 0.7, r * 0.6, (shade, shade, shade), 0.8 * (1 - 0.6 * f))
        if t <= self.ball_end:
            rb = 9 * s * (1 - 0.5 * (t - self.flash_end) / max(1, self.ball_end - self.flash_end))
            blend_disk(img, self.x, self.y - rb * 0.5, rb, rb * 0.8, (250, 120, 20), 0.9)
            blend_disk(img, self.x, self.y - rb * 0.5, rb * 0.5, rb * 0.4, (255, 220, 80), 1.0)


class Scorch:
    """A burnt patch left on the ground from ``t0`` on."""

    layer = 0

    def __init__(self, x: float, y: float, scale: float, t0: int):
        self.x, self.y, self.s, self.t0 = x, y, scale, t0

    def box(self, t: int):
        return None

    def draw(self, img: np.ndarray, t: int) -> None:
        if t >= self.t0:
            blend_disk(img, self.x, self.y, 9 * self.s, 3.5 * self.s, (25, 22, 20), 0.7)


class Damage:
    """A prop being broken: a crack per strike (the ``strikes`` frames), shards falling while it is hit."""

    layer = 0

    def __init__(self, rng: np.random.Generator, prop: Prop, strikes: list[int], scale: float):
        self.prop, self.strikes, self.s = prop, sorted(strikes), scale
        self.cracks = []
        for _ in strikes:  # a crack: a short random walk of dark pixels inside the prop
            x, y = rng.uniform(prop.x0, prop.x1), rng.uniform(prop.y0, prop.y1)
            pts = []
            for _ in range(int(6 * scale) + 3):
                x = float(np.clip(x + rng.integers(-1, 2), prop.x0, prop.x1 - 1))
                y = float(np.clip(y + rng.integers(-1, 2), prop.y0, prop.y1 - 1))
                pts.append((int(x), int(y)))
            self.cracks.append(pts)
        self.shards = rng.uniform(0, 1, (len(strikes), 4, 2))

    def box(self, t: int):
        return None

    def draw(self, img: np.ndarray, t: int) -> None:
        n = int(np.searchsorted(self.strikes, t, side="right"))
        if n == 0:
            return
        p = self.prop
        h, w = img.shape[:2]
        if n > len(self.strikes) // 2:  # broken through: a dark hole in the middle
            cx, cy = p.center
            fill(
                img,
                cx - (p.x1 - p.x0) * 0.25,
                cy - (p.y1 - p.y0) * 0.25,
                cx + (p.x1 - p.x0) * 0.2,
                cy + (p.y1 - p.y0) * 0.3,
                (20, 20, 25),
            )
        for pts in self.cracks[:n]:
            for x, y in pts:
                if 0 <= x < w and 0 <= y < h:
                    img[y, x] = (15, 15, 15)
        last = self.strikes[n - 1]
        if t - last < 4:  # shards falling just after a strike
            for sx, sy in self.shards[n - 1]:
                x = p.x0 + sx * (p.x1 - p.x0)
                y = p.y1 + (t - last) * 2 * self.s * sy
                fill(img, x, y, x + 1.5 * self.s, y + 1.5 * self.s, (230, 230, 220))


class Debris:
    """Bits scattered on the road after a crash, from ``t0`` to ``t1``."""

    layer = 0

    def __init__(self, rng: np.random.Generator, x: float, y: float, scale: float, t0: int, t1: int):
        self.t0, self.t1, self.s = t0, t1, scale
        self.pts = np.stack([x + rng.normal(0, 7 * scale, 14), y + rng.normal(0, 4 * scale, 14)], 1)
        self.cols = rng.choice([(200, 200, 200), (60, 60, 60), (230, 150, 40), (170, 30, 30)], 14)

    def box(self, t: int):
        return None

    def draw(self, img: np.ndarray, t: int) -> None:
        if self.t0 <= t <= self.t1:
            for (x, y), c in zip(self.pts, self.cols):
                fill(img, x, y, x + 1.5 * self.s, y + 1.5 * self.s, c)


class Muzzle:
    """Short bright flashes at a point on the ``shots`` frames."""

    layer = 1

    def __init__(self, x_of, y_of, shots: list[int], scale: float):
        self.x_of, self.y_of, self.shots, self.s = x_of, y_of, set(shots), scale

    def box(self, t: int):
        return None

    def draw(self, img: np.ndarray, t: int) -> None:
        if t in self.shots or t - 1 in self.shots:
            x, y = self.x_of(t), self.y_of(t)
            big = t in self.shots
            r = (3 if big else 1.5) * self.s
            fill(img, x - r, y - r, x + r, y + r, (255, 240, 160) if big else (250, 160, 60))


class Sign:
    """A shop sign or lamp that blinks (in normal and anomalous videos alike: brightness alone tells nothing)."""

    layer = 0

    def __init__(self, rng: np.random.Generator, x: float, y: float, scale: float, fps: float):
        self.x, self.y, self.s = x, y, scale
        self.color = tuple(
            int(v) for v in rng.choice([(255, 80, 180), (80, 220, 255), (255, 240, 120), (255, 130, 40)])
        )
        self.period = max(2, int(rng.uniform(0.3, 1.2) * fps))

    def box(self, t: int):
        return None

    def draw(self, img: np.ndarray, t: int) -> None:
        if (t // self.period) % 2 == 0:
            fill(img, self.x, self.y, self.x + 12 * self.s, self.y + 4 * self.s, self.color)
            blend_disk(img, self.x + 6 * self.s, self.y + 2 * self.s, 10 * self.s, 6 * self.s, self.color, 0.25)
        else:
            fill(img, self.x, self.y, self.x + 12 * self.s, self.y + 4 * self.s, (60, 60, 60))
