"""Turn a scene and its cast into frames: layered drawing, the camera's lighting drift, sensor noise, an OSD clock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vanguard.data.synthcrime.agents import Cast, Person
from vanguard.data.synthcrime.scenes import Scene

#: palette name -> per-channel gain ranges (a camera's white balance and the time of day)
PALETTES = {
    "day": ((0.95, 1.05), (0.95, 1.05), (0.95, 1.05)),
    "dusk": ((1.0, 1.1), (0.85, 0.95), (0.7, 0.85)),
    "night": ((0.45, 0.55), (0.5, 0.6), (0.65, 0.8)),
    "film": ((1.0, 1.12), (0.9, 1.0), (0.75, 0.85)),
    "overcast": ((0.85, 0.92), (0.9, 0.97), (0.88, 0.95)),
}

_FONT = {  # 3x5 digits for the on-screen clock
    "0": "111101101101111",
    "1": "010110010010111",
    "2": "111001111100111",
    "3": "111001111001111",
    "4": "101101111001001",
    "5": "111100111001111",
    "6": "111100111101111",
    "7": "111001010010010",
    "8": "111101111101111",
    "9": "111101111001111",
    ":": "000010000010000",
    "-": "000000111000000",
}


@dataclass
class Look:
    gain: np.ndarray  # (3,) per-channel gain including brightness
    noise: float  # sensor noise sigma (grey levels)
    wave_amp: float  # slow lighting change (clouds, auto exposure)
    wave_period: float  # frames
    wave_phase: float
    osd: bool
    clock: int  # seconds of the day shown at frame 0


def sample_look(rng: np.random.Generator, palette: str) -> Look:
    brightness = rng.uniform(0.72, 1.18)
    gain = np.array([rng.uniform(*r) for r in PALETTES[palette]], np.float32) * brightness
    return Look(
        gain,
        float(rng.uniform(1.5, 5.0)),
        float(rng.uniform(0.0, 0.12)),
        float(rng.uniform(60, 240)),
        float(rng.uniform(0, 2 * np.pi)),
        bool(rng.random() < 0.8),
        int(rng.integers(0, 86400)),
    )


_GLYPHS = {ch: np.array([b == "1" for b in bits], bool).reshape(5, 3) for ch, bits in _FONT.items()}


def _draw_text(img: np.ndarray, x: int, y: int, text: str, color=(235, 235, 235)) -> None:
    for ch in text:
        glyph = _GLYPHS.get(ch)
        if glyph is not None:
            region = img[y : y + 5, x : x + 3]
            if region.shape[:2] == (5, 3):
                region[glyph] = color
        x += 4


def render(scene: Scene, cast: Cast, T: int, fps: float, look: Look, rng: np.random.Generator) -> np.ndarray:
    """All frames of one video, (T, H, W, 3) uint8."""
    h, w = scene.height, scene.width
    bank = rng.normal(0, look.noise, (6, h, w, 1)).astype(np.float32)  # grey sensor noise, reused in turn
    bank = bank + rng.normal(0, look.noise * 0.4, (6, h, w, 3)).astype(np.float32)
    order = rng.integers(0, 6, T)
    t_axis = np.arange(T)
    light = 1 + look.wave_amp * np.sin(2 * np.pi * t_axis / look.wave_period + look.wave_phase)
    ground = [e for e in cast.effects if e.layer == 0]
    above = [e for e in cast.effects if e.layer == 1]
    frames = np.empty((T, h, w, 3), np.uint8)
    for t in range(T):
        img = scene.background.copy()
        for e in ground:
            e.draw(img, t)
        agents = [p for p in cast.people if p.visible[t]] + [c for c in cast.cars if c.visible[t]]
        agents.sort(key=lambda a: float(a.y[t]) if isinstance(a, Person) else float(a.y[t]) + 7 * a.scale)
        for a in agents:
            a.draw(img, t)
        for e in above:
            e.draw(img, t)
        out = img.astype(np.float32) * (look.gain * light[t]) + bank[order[t]]
        frame = np.clip(out, 0, 255).astype(np.uint8)
        if look.osd and h >= 40:
            sec = (look.clock + int(t / fps)) % 86400
            frame[1:8, 1:35] = (frame[1:8, 1:35] * 0.3).astype(np.uint8)
            _draw_text(frame, 2, 2, f"{sec // 3600:02d}:{sec % 3600 // 60:02d}:{sec % 60:02d}")
        frames[t] = frame
    return frames
