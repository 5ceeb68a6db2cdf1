"""Encoding videos (tests, the synthetic benchmark, motion-input caches).

:func:`write_video` is public as :func:`modist.data.video.write_video`; import it from there (one name,
one path): this module only keeps the encoder apart from the decoders.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from fractions import Fraction

import av
import numpy as np

from modist.atomic import atomic_path


def write_video(
    path: str | os.PathLike,
    frames: np.ndarray,
    fps: float,
    *,
    codec: str = "libx264",
    crf: int = 18,
    rotation: int = 0,
    times: Sequence[float] | None = None,
    options: dict[str, str] | None = None,
    gop: int | None = None,
) -> None:
    """Encode uint8 [T, H, W, 3] RGB frames; the file appears only when complete.

    ``rotation`` stores a counter-clockwise display rotation (metadata only, as phones do);
    ``times`` gives each frame's presentation time in seconds (variable frame rate);
    odd frame sizes are encoded as 4:4:4, which H.264 allows. ``options`` go to the muxer
    (e.g. ``{"movflags": "faststart"}``); ``gop`` is the keyframe interval in frames.
    """
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise ValueError(f"expected uint8 [T,H,W,3] frames, got {frames.dtype} {frames.shape}")
    if times is not None and len(times) != len(frames):
        raise ValueError(f"got {len(times)} times for {len(frames)} frames")
    height, width = frames.shape[1:3]
    with atomic_path(path) as tmp:
        with av.open(str(tmp), mode="w", options=options or {}) as container:
            stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
            stream.width, stream.height = width, height
            stream.pix_fmt = "yuv444p" if (width % 2 or height % 2) and codec == "libx264" else "yuv420p"
            if times is not None:
                stream.codec_context.time_base = Fraction(1, 1000)
            if codec == "libx264":
                # Identical frames must give identical files (the synthetic benchmark is
                # reproducible to the byte). Threaded encoding rounds differently from run to
                # run, and so does x264's macroblock-tree rate control on these small frames:
                # 3 of 4 repeated encodes differed with it, 36 of 36 matched without it.
                stream.options = {"crf": str(crf), "preset": "medium", "threads": "1", "x264-params": "mbtree=0"}
            if gop:
                stream.codec_context.gop_size = gop
            if rotation:
                stream.set_display_rotation(rotation)
            for i, image in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24")
                if times is not None:
                    frame.pts, frame.time_base = int(round(times[i] * 1000)), Fraction(1, 1000)
                container.mux(stream.encode(frame))
            container.mux(stream.encode())
