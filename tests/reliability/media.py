"""Hostile and unusual media for the reliability suite, all written for real (PyAV / libx264, real tar shards).

Each writer returns the path (or bytes) of something a long run can meet in the wild: a greyscale or 10-bit
H.264 stream, a variable-frame-rate one, an odd frame size, corrupt or empty files, a shard cut off mid-member.
"""

from __future__ import annotations

import io
import tarfile
from fractions import Fraction
from pathlib import Path

import numpy as np


def frames(n: int, width: int = 64, height: int = 48, seed: int = 0) -> np.ndarray:
    """(n, height, width, 3) uint8: a moving bright square on a gradient (so each frame differs)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width]
    out = np.empty((n, height, width, 3), np.uint8)
    for t in range(n):
        img = np.stack([xx * 3 % 256, yy * 5 % 256, np.full_like(xx, 40)], -1).astype(np.uint8)
        x = (4 * t) % max(1, width - 8)
        img[8:16, x : x + 8] = 250
        out[t] = np.clip(img.astype(int) + rng.integers(-3, 4, img.shape), 0, 255)
    return out


def encode(
    path: str | Path | None,
    n: int = 12,
    width: int = 64,
    height: int = 48,
    pix_fmt: str = "yuv420p",
    fps: float = 10.0,
    pts_ms: list[int] | None = None,
) -> bytes:
    """Encode ``n`` frames with libx264 in ``pix_fmt`` (``gray``, ``yuv420p10le``, ``yuv444p`` for odd sizes);
    with ``pts_ms`` the frames get those presentation times in milliseconds (variable frame rate)."""
    import av

    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=None if pts_ms else Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
        if pts_ms:
            stream.codec_context.time_base = stream.time_base = Fraction(1, 1000)
        for i, img in enumerate(frames(n, width, height)):
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            if pts_ms:
                frame.pts, frame.time_base = pts_ms[i], Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = buf.getvalue()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_bytes(data)
    return data


#: the unusual-but-valid videos every reader must take (name -> encode kwargs; ``n`` frames up to 12)
UNUSUAL = {
    "greyscale": dict(pix_fmt="gray"),
    "10-bit": dict(pix_fmt="yuv420p10le"),
    "odd-size": dict(pix_fmt="yuv444p", width=65, height=47),
    "vfr": dict(pts_ms=[0, 100, 150, 400, 420, 900, 1000, 1500, 1510, 1600, 2000, 2100]),
}


def encode_unusual(kind: str, path: str | Path | None = None, n: int = 12) -> bytes:
    """``n`` frames (at most 12) of the ``kind`` of :data:`UNUSUAL`."""
    kw = dict(UNUSUAL[kind])
    if "pts_ms" in kw:
        kw["pts_ms"] = kw["pts_ms"][:n]
    return encode(path, n=n, **kw)


def bad_videos(folder: Path) -> dict[str, Path]:
    """Files that are not decodable videos: empty, random bytes, an mp4 cut in half (no moov atom)."""
    folder.mkdir(parents=True, exist_ok=True)
    good = encode(None, n=12)
    files = {
        "zero-length": b"",
        "random-bytes": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
        "truncated-mp4": good[: len(good) // 2],
    }
    out = {}
    for name, data in files.items():
        (folder / f"{name}.mp4").write_bytes(data)
        out[name] = folder / f"{name}.mp4"
    return out


def truncate_tar(path: str | Path, keep_fraction: float = 0.6) -> int:
    """Cut a tar shard at ``keep_fraction`` of its size, inside a member (a copy interrupted mid-file);
    returns the number of complete members left."""
    path = Path(path)
    data = path.read_bytes()
    cut = int(len(data) * keep_fraction)
    path.write_bytes(data[:cut])
    complete = 0
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for m in tar:
            if m.offset_data + m.size <= cut:
                complete += 1
    return complete


#: containers ffmpeg writes and decord reads besides mp4 (extension -> (PyAV format, codec))
CONTAINERS = {".m4v": ("mp4", "libx264"), ".mpg": ("mpeg", "mpeg2video"), ".3gp": ("3gp", "libx264"),
              ".wmv": ("asf", "wmv2"), ".flv": ("flv", "libx264")}


def encode_container(path: str | Path, n: int = 12, fps: float = 10.0) -> Path:
    """``n`` frames in the container and codec :data:`CONTAINERS` gives the path's extension."""
    import av

    fmt, codec = CONTAINERS[Path(path).suffix]
    with av.open(str(path), "w", format=fmt) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for img in frames(n):
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)
