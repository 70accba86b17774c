"""Inputs for prediction: an image file, a folder of images, a video file or a webcam index.

`iterate_source` yields (name, frame RGB uint8) pairs lazily; a corrupt image raises InputError
when it is reached (callers stage their outputs, so nothing partial is left).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

from posekit.core.errors import InputError
from posekit.data.images import IMAGE_SUFFIXES, VIDEO_SUFFIXES, read_image


def describe_source(source: str) -> tuple[str, list[Path] | str | int]:
    """('images', [paths]) | ('video', path) | ('webcam', index)."""
    if source.isdigit():
        return "webcam", int(source)
    path = Path(source)
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise InputError(f"folder {path} holds no images ({', '.join(IMAGE_SUFFIXES)}): point at a folder of images")
        return "images", images
    if not path.exists():
        raise InputError(f"{path} does not exist: pass an image, a folder, a video or a webcam index")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return "video", path
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return "images", [path]
    raise InputError(f"{path} is neither an image ({', '.join(IMAGE_SUFFIXES)}) nor a video "
                     f"({', '.join(VIDEO_SUFFIXES)}): convert it or rename it")


def iterate_source(source: str, max_frames: int | None = None) -> Iterator[tuple[str, np.ndarray]]:
    kind, what = describe_source(source)
    if kind == "images":
        for path in what[:max_frames]:
            yield path.name, read_image(path)
        return
    capture = cv2.VideoCapture(what if kind == "webcam" else str(what))
    if not capture.isOpened():
        raise InputError(f"cannot open {kind} {what}: check the file or the camera index")
    try:
        index = 0
        while max_frames is None or index < max_frames:
            ok, bgr = capture.read()
            if not ok:
                if index == 0:
                    raise InputError(f"{kind} {what} has no readable frames: re-encode it (e.g. H.264 mp4)")
                break
            yield f"frame_{index:06d}", cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            index += 1
    finally:
        capture.release()


def video_fps(source: str) -> float:
    capture = cv2.VideoCapture(source)
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.release()
    return fps if fps > 0 else 25.0
