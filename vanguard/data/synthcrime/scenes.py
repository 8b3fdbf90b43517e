"""Static scenes seen by a fixed surveillance camera: textured ground, structures, and where agents may go.

A :class:`Scene` is a background image plus the geometry the agents and anomaly scripts need: bands where people
walk (feet rows), road lanes for cars, and props (bins, benches, windows, shelves) that an anomaly can target.
Sizes are given for a 160x120 frame and multiplied by ``scale`` (other resolutions, other camera distances).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: scene kinds and the caption word for where things happen
SCENE_PLACES = {
    "street": "sidewalk",
    "parking": "parking lot",
    "plaza": "plaza",
    "shop": "store",
    "highway": "road",
    "campus": "walkway",
}
ROAD_SCENES = ("street", "parking", "highway")


@dataclass
class Prop:
    """A static object an anomaly can act on (pixel box; ``name`` is what captions call it)."""

    x0: int
    y0: int
    x1: int
    y1: int
    name: str

    @property
    def center(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2


@dataclass
class Scene:
    kind: str
    width: int
    height: int
    scale: float
    background: np.ndarray  # (H, W, 3) uint8
    walk_bands: list[tuple[float, float]]  # feet rows (y0, y1) where people walk, full width
    lanes: list[tuple[float, int]] = field(default_factory=list)  # (car centre row, direction +1 right / -1 left)
    props: list[Prop] = field(default_factory=list)

    @property
    def place(self) -> str:
        return SCENE_PLACES[self.kind]

    @property
    def has_road(self) -> bool:
        return bool(self.lanes)


def _texture(rng: np.random.Generator, h: int, w: int, base, amount: float, blob: int = 8) -> np.ndarray:
    """A ground texture: coarse blotches plus fine grain around ``base`` colour."""
    coarse = rng.normal(0, 1, (h // blob + 2, w // blob + 2, 1))
    coarse = np.kron(coarse, np.ones((blob, blob, 1)))[:h, :w]
    fine = rng.normal(0, 1, (h, w, 1))
    tex = np.asarray(base, np.float32)[None, None] + amount * (0.6 * coarse + 0.4 * fine)
    return tex


def _rect(img, x0, y0, x1, y1, color) -> None:
    h, w = img.shape[:2]
    x0, x1 = max(0, int(round(x0))), min(w, int(round(x1)))
    y0, y1 = max(0, int(round(y0))), min(h, int(round(y1)))
    if x1 > x0 and y1 > y0:
        img[y0:y1, x0:x1] = color


def _jit(rng, color, amount=18):
    return np.clip(np.asarray(color, np.float32) + rng.uniform(-amount, amount, 3), 0, 255)


def _buildings(rng, img, y0, y1, s):
    """A row of facades with windows and doors between rows ``y0`` and ``y1``; returns window props."""
    w = img.shape[1]
    x, props = 0, []
    while x < w:
        bw = int(rng.uniform(30, 55) * s)
        facade = _jit(rng, rng.choice([(150, 120, 100), (170, 160, 150), (120, 110, 120), (180, 150, 120)]), 20)
        _rect(img, x, y0, x + bw, y1, facade)
        win = _jit(rng, (70, 90, 110), 15)
        for wy in np.arange(y0 + 3 * s, y1 - 12 * s, 9 * s):
            for wx in np.arange(x + 4 * s, x + bw - 8 * s, 10 * s):
                _rect(img, wx, wy, wx + 6 * s, wy + 5 * s, win)
        # a shop window at street level: the vandalism target
        sx = x + bw * 0.2
        _rect(img, sx, y1 - 11 * s, sx + 16 * s, y1 - 2 * s, _jit(rng, (110, 140, 160), 12))
        props.append(Prop(int(sx), int(y1 - 11 * s), int(sx + 16 * s), int(y1 - 2 * s), "shop window"))
        _rect(img, x + bw * 0.7, y1 - 13 * s, x + bw * 0.7 + 6 * s, y1, _jit(rng, (60, 45, 35), 10))
        _rect(img, x + bw - 1, y0, x + bw, y1, facade * 0.6)
        x += bw
    return props


def _bin(rng, img, x, y, s, props, name="trash bin"):
    """A bin standing on row ``y`` (its base)."""
    c = _jit(rng, (60, 90, 60), 15)
    _rect(img, x - 4 * s, y - 9 * s, x + 4 * s, y, c)
    _rect(img, x - 5 * s, y - 10 * s, x + 5 * s, y - 8 * s, c * 0.7)
    props.append(Prop(int(x - 5 * s), int(y - 10 * s), int(x + 5 * s), int(y), name))


def _bench(rng, img, x, y, s, props):
    c = _jit(rng, (120, 80, 50), 15)
    _rect(img, x - 9 * s, y - 6 * s, x + 9 * s, y - 4 * s, c)
    _rect(img, x - 8 * s, y - 4 * s, x - 7 * s, y, c * 0.6)
    _rect(img, x + 7 * s, y - 4 * s, x + 8 * s, y, c * 0.6)
    props.append(Prop(int(x - 9 * s), int(y - 7 * s), int(x + 9 * s), int(y), "bench"))


def _parked_car(rng, img, x, y, s, props):
    c = _jit(rng, rng.choice([(150, 30, 30), (40, 60, 140), (200, 200, 200), (40, 40, 40), (160, 150, 60)]), 20)
    _rect(img, x - 8 * s, y - 14 * s, x + 8 * s, y + 14 * s, c)
    _rect(img, x - 6 * s, y - 7 * s, x + 6 * s, y + 3 * s, c * 0.45)
    props.append(Prop(int(x - 8 * s), int(y - 14 * s), int(x + 8 * s), int(y + 14 * s), "parked car"))


def make_scene(rng: np.random.Generator, kind: str, width: int, height: int, zoom: float = 1.0) -> Scene:
    """Build one random scene of ``kind`` at ``width`` x ``height`` (camera ``zoom`` scales agents and props)."""
    s = min(width / 160, height / 120) * zoom
    h, w = height, width
    props: list[Prop] = []
    lanes: list[tuple[float, int]] = []
    if kind in ("street", "highway"):
        top = 0.30 if kind == "street" else 0.16
        y_walk0, y_road0, y_road1 = h * top, h * (top + 0.18), h * (top + 0.18 + (0.30 if kind == "street" else 0.5))
        img = _texture(rng, h, w, (150, 150, 145), 8)  # sidewalk
        img[int(y_road0) : int(y_road1)] = _texture(rng, int(y_road1) - int(y_road0), w, (70, 70, 75), 6, 4)
        props += _buildings(rng, img, 0, y_walk0, s)
        for x in np.arange(0, w, 12 * s):  # paving joints
            img[int(y_walk0) : int(y_road0), int(x)] *= 0.85
        _rect(img, 0, y_road0 - 1.5 * s, w, y_road0, (185, 185, 180))  # curbs
        _rect(img, 0, y_road1, w, y_road1 + 1.5 * s, (185, 185, 180))
        n_lanes = 2 if kind == "street" else 3
        lane_h = (y_road1 - y_road0) / n_lanes
        for i in range(n_lanes):
            lanes.append((y_road0 + lane_h * (i + 0.5), -1 if i % 2 == 0 else 1))
            if i:
                for x in np.arange(0, w, 14 * s):
                    _rect(img, x, y_road0 + lane_h * i - 0.5, x + 7 * s, y_road0 + lane_h * i + 0.7, (210, 200, 120))
        walk = [(y_walk0 + 6 * s, y_road0 - 2 * s)]
        if y_road1 + 8 * s < h:
            walk.append((y_road1 + 8 * s, h - 2))
        for _ in range(2):
            _bin(rng, img, rng.uniform(0.1, 0.9) * w, y_road0 - 3 * s, s, props)
        if kind == "street" and y_road1 + 14 * s < h:
            _bench(rng, img, rng.uniform(0.2, 0.8) * w, h - 4 * s, s, props)
    elif kind == "parking":  # a through lane at the back, a row of parked cars in front, walkways between
        img = _texture(rng, h, w, (85, 85, 88), 7, 4)
        _rect(img, 0, 0, w, h * 0.12, _jit(rng, (90, 120, 70), 15))  # verge and fence
        _rect(img, 0, h * 0.12, w, h * 0.12 + 1.5 * s, (150, 140, 120))
        lane_y = h * 0.3
        lanes = [(lane_y - 8 * s, -1), (lane_y + 8 * s, 1)]
        for x in np.arange(0, w, 14 * s):
            _rect(img, x, lane_y - 0.5, x + 7 * s, lane_y + 0.7, (210, 200, 120))
        row = h * 0.3 + 48 * s
        for x in np.arange(6 * s, w, 22 * s):
            _rect(img, x, row - 15 * s, x + 1, row + 15 * s, (220, 220, 210))
            if rng.random() < 0.55:
                _parked_car(rng, img, x + 11 * s, row, s, props)
        walk = [(lane_y + 22 * s, row - 17 * s)]
        if row + 24 * s < h - 2:
            walk.append((row + 24 * s, h - 2))
        _bin(rng, img, rng.uniform(0.1, 0.9) * w, lane_y + 24 * s, s, props)
    elif kind == "plaza":
        img = _texture(rng, h, w, (165, 150, 130), 9)
        tile = int(10 * s)
        img[::tile] *= 0.85
        img[:, ::tile] *= 0.85
        _rect(img, 0, 0, w, h * 0.22, _jit(rng, (120, 120, 130)))  # a wall at the back
        for x in np.arange(5 * s, w, 24 * s):
            _rect(img, x, h * 0.05, x + 12 * s, h * 0.17, _jit(rng, (80, 100, 120), 10))
        for _ in range(2):
            px, py = rng.uniform(0.1, 0.9) * w, rng.uniform(0.4, 0.9) * h
            _rect(img, px - 7 * s, py - 6 * s, px + 7 * s, py, (110, 90, 70))
            _rect(img, px - 6 * s, py - 11 * s, px + 6 * s, py - 6 * s, _jit(rng, (60, 120, 50), 20))
            props.append(Prop(int(px - 7 * s), int(py - 11 * s), int(px + 7 * s), int(py), "planter"))
        _bench(rng, img, rng.uniform(0.2, 0.8) * w, h * 0.32, s, props)
        _bin(rng, img, rng.uniform(0.1, 0.9) * w, h * 0.3, s, props)
        walk = [(h * 0.35, h - 2)]
    elif kind == "shop":
        img = _texture(rng, h, w, (190, 185, 170), 5)
        tile = int(12 * s)
        checker = ((np.arange(h)[:, None] // tile + np.arange(w)[None] // tile) % 2).astype(np.float32)
        img *= (0.92 + 0.08 * checker)[..., None]
        _rect(img, 0, 0, w, h * 0.12, _jit(rng, (200, 200, 190)))
        for x in np.arange(4 * s, w - 20 * s, 34 * s):  # shelves with goods
            _rect(img, x, h * 0.12, x + 28 * s, h * 0.36, _jit(rng, (120, 100, 80), 10))
            for yy in np.arange(h * 0.14, h * 0.34, 6 * s):
                for xx in np.arange(x + 2 * s, x + 26 * s, 4 * s):
                    _rect(img, xx, yy, xx + 3 * s, yy + 4 * s, rng.uniform(40, 230, 3))
            props.append(Prop(int(x), int(h * 0.12), int(x + 28 * s), int(h * 0.36), "shelf"))
        cx = rng.uniform(0.15, 0.6) * w
        _rect(img, cx, h * 0.78, cx + 40 * s, h * 0.9, _jit(rng, (100, 70, 50)))  # counter
        _rect(img, cx + 4 * s, h * 0.74, cx + 14 * s, h * 0.78, _jit(rng, (150, 190, 200)))  # glass display
        props.append(Prop(int(cx + 4 * s), int(h * 0.74), int(cx + 14 * s), int(h * 0.78), "glass display"))
        walk = [(h * 0.45, h * 0.74)]
    elif kind == "campus":
        img = _texture(rng, h, w, (70, 120, 60), 10)  # grass
        y0, y1 = h * rng.uniform(0.3, 0.4), h * rng.uniform(0.8, 0.9)
        img[int(y0) : int(y1)] = _texture(rng, int(y1) - int(y0), w, (160, 155, 150), 7)
        for _ in range(3):  # trees on the grass
            tx, ty = rng.uniform(0, w), rng.uniform(2, max(3, y0 - 14 * s))
            _rect(img, tx - 1.5 * s, ty + 6 * s, tx + 1.5 * s, ty + 12 * s, (80, 60, 40))
            _rect(img, tx - 6 * s, ty - 2 * s, tx + 6 * s, ty + 7 * s, _jit(rng, (40, 90, 35), 10))
        _bench(rng, img, rng.uniform(0.2, 0.8) * w, y0 + 8 * s, s, props)
        _bin(rng, img, rng.uniform(0.1, 0.9) * w, y0 + 9 * s, s, props)
        walk = [(y0 + 14 * s, y1 - 2)]
    else:
        raise ValueError(f"unknown scene kind {kind!r}; expected one of {', '.join(SCENE_PLACES)}")
    # a soft vignette, as through a cheap lens
    yy, xx = np.mgrid[0:h, 0:w]
    r = ((xx - w / 2) / w) ** 2 + ((yy - h / 2) / h) ** 2
    img = img * (1 - 0.35 * r)[..., None]
    return Scene(kind, w, h, s, np.clip(img, 0, 255).astype(np.uint8), walk, lanes, props)
