"""Decoding images to RGB uint8 HxWx3, with one clear error for each way a file can be unusable."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from posekit.core.errors import InputError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as RGB uint8 (H, W, 3)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image {path} does not exist: check the path")
    data = np.fromfile(str(path), dtype=np.uint8)
    if data.size == 0:
        raise InputError(f"image {path} is an empty file: replace it or remove it from the input")
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if bgr is None:
        raise InputError(f"image {path} is corrupt or not an image: re-export it as JPEG or PNG")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def as_rgb_image(image: np.ndarray | str | Path) -> np.ndarray:
    """Accept a path or an array (HxW, HxWx3, HxWx4 uint8) and return RGB uint8 HxWx3."""
    if isinstance(image, (str, Path)):
        return read_image(image)
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=-1)
    if image.ndim != 3 or image.shape[-1] not in (3, 4) or image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image array has shape {image.shape}: pass an HxWx3 RGB uint8 array")
    if image.dtype != np.uint8:
        raise InputError(f"image array has dtype {image.dtype}: pass uint8 values in 0..255")
    return np.ascontiguousarray(image[..., :3])


def write_image(path: str | Path, rgb: np.ndarray) -> None:
    """Write RGB uint8 atomically (temp name, then rename)."""
    from posekit.core.io import atomic_path

    path = Path(path)
    ok, buf = cv2.imencode(path.suffix or ".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise InputError(f"cannot encode an image as '{path.suffix}': use .png or .jpg")
    with atomic_path(path) as tmp:
        buf.tofile(str(tmp))
