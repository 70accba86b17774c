"""Geometry and augmentation, each geometric step with an exact inverse back to image pixels.

Pixel convention (the one cv2.warpAffine, cv2.resize, cv2.flip and MMPose use): integer (x, y) is
the *centre* of the pixel in column x, row y. A horizontal flip maps x -> w - 1 - x, and a point is
inside an image of size (w, h) when 0 <= x <= w - 1 and 0 <= y <= h - 1.

Every geometric transform is an affine matrix M (2,3) mapping source pixels to destination pixels;
`apply_affine(points, M)` moves keypoints, `invert_affine(M)` comes back. Geometry is numpy float64;
torch is used only to sample all top-down crops of an image in one batched `grid_sample`.

Top-down (MMPose conventions): `box_to_center_scale` -> `random_box_transform` (training) ->
`warp_matrix` -> `crop_people`; predictions come back with `crop_to_image`.
Whole-image (one-stage, end-to-end): `letterbox`, `random_affine_matrix` + `warp_image` +
`transform_annotations`, `hflip`. Photometric: `hsv_jitter` (Ultralytics), `hsv_shift` (YOLOX,
used by RTMPose).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from posekit.core.errors import ConfigError, InputError

Size = tuple[int, int]  # (width, height)


# --------------------------------------------------------------------------- affine basics

def apply_affine(points: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Map points (..., 2) by M (2,3), or per person by M (N,2,3) with points (N, ..., 2)."""
    pts = np.asarray(points, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    if pts.shape[-1:] != (2,):
        raise InputError(f"points have shape {pts.shape}: the last axis must hold (x, y)")
    if M.shape == (2, 3):
        return pts @ M[:, :2].T + M[:, 2]
    if M.ndim != 3 or M.shape[1:] != (2, 3) or pts.ndim < 2 or pts.shape[0] != M.shape[0]:
        raise InputError(f"affine matrices of shape {M.shape} do not match points of shape "
                         f"{pts.shape}: pass M (2,3), or M (N,2,3) with points (N, ..., 2)")
    flat = pts.reshape(len(M), int(np.prod(pts.shape[1:-1])), 2)  # explicit: N may be 0
    out = np.einsum("nij,nkj->nki", M[:, :, :2], flat) + M[:, None, :, 2]  # (N, P, 2)
    return out.reshape(pts.shape)


def invert_affine(M: np.ndarray) -> np.ndarray:
    """Inverse of affine matrices (..., 2, 3): invert_affine(M) maps destination back to source."""
    M = np.asarray(M, dtype=np.float64)
    A_inv = np.linalg.inv(M[..., :2])  # (..., 2, 2)
    t_inv = -np.einsum("...ij,...j->...i", A_inv, M[..., 2])  # (..., 2)
    return np.concatenate([A_inv, t_inv[..., None]], axis=-1)


def _as_3x3(M: np.ndarray) -> np.ndarray:
    bottom = np.broadcast_to(np.array([0.0, 0.0, 1.0]), M.shape[:-2] + (1, 3))
    return np.concatenate([M, bottom], axis=-2)


def _size(size, what: str = "size") -> Size:
    w, h = (size, size) if np.isscalar(size) else tuple(size)
    if int(w) != w or int(h) != h or w <= 0 or h <= 0:
        raise ConfigError(f"{what} {size!r} is not a positive (width, height) in whole pixels")
    return int(w), int(h)


def _image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim not in (2, 3) or image.shape[0] == 0 or image.shape[1] == 0:
        raise InputError(f"image has shape {image.shape}: pass an HxW or HxWxC array")
    return image


# --------------------------------------------------------------------------- top-down crops

def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow the short side of scales (N,2) = (w, h) so that w / h == aspect_ratio (MMPose)."""
    scale = np.asarray(scale, dtype=np.float64)
    w, h = scale[..., :1], scale[..., 1:]
    return np.where(w > h * aspect_ratio, np.concatenate([w, w / aspect_ratio], -1),
                    np.concatenate([h * aspect_ratio, h], -1))


def box_to_center_scale(boxes_xyxy: np.ndarray, aspect_ratio: float | None = None,
                        padding: float = 1.25) -> tuple[np.ndarray, np.ndarray]:
    """Person boxes (N,4) xyxy -> crop center (N,2) and scale (N,2) = padded (w, h) in pixels.

    As MMPose's GetBBoxCenterScale (padding 1.25) followed by TopdownAffine's aspect fix, where
    aspect_ratio is the model input's w / h (192/256 for RTMPose); None keeps the box's aspect.
    """
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise InputError(f"boxes have shape {boxes.shape}: pass (N, 4) as x1, y1, x2, y2")
    center = 0.5 * (boxes[:, :2] + boxes[:, 2:])  # (N, 2)
    scale = (boxes[:, 2:] - boxes[:, :2]) * padding  # (N, 2)
    if aspect_ratio is not None:
        scale = fix_aspect_ratio(scale, aspect_ratio)
    return center, scale


def warp_matrix(center: np.ndarray, scale: np.ndarray, rotation_deg: np.ndarray | float | None,
                output_size: Size) -> np.ndarray:
    """Affine maps image -> crop (N,2,3), equal to MMPose's get_warp_matrix (use_udp=False).

    MMPose builds the map from three point pairs: the box centre goes to the crop centre, the
    point 0.5·scale_w "up" the box (rotated by rotation_deg) goes to 0.5·out_w above the crop
    centre, and a third point at a right angle to those. That is a similarity whose scale is
    out_w / scale_w (only the box width counts, so scales should already have the crop's aspect):
        M = [ s·R(-θ) | (out_w/2, out_h/2) - s·R(-θ)·center ],  R(θ) = [[cos, -sin], [sin, cos]].
    center (N,2), scale (N,2) in image pixels, rotation_deg (N,) or scalar or None, output_size (w,h).
    """
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 2)
    if len(center) != len(scale):
        raise InputError(f"{len(center)} centers but {len(scale)} scales: pass one of each per person")
    if (scale[:, 0] <= 0).any():
        raise InputError("a crop scale has width <= 0: pass boxes with positive width and height")
    out_w, out_h = _size(output_size, "output_size")
    theta = np.deg2rad(np.broadcast_to(0.0 if rotation_deg is None else rotation_deg, len(center)))
    s = out_w / scale[:, 0]  # (N,)
    cos, sin = s * np.cos(theta), s * np.sin(theta)
    linear = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], 1)  # (N, 2, 2)
    shift = np.array([0.5 * out_w, 0.5 * out_h]) - np.einsum("nij,nj->ni", linear, center)
    return np.concatenate([linear, shift[:, :, None]], -1)  # (N, 2, 3)


def crop_people(image_rgb: np.ndarray, centers: np.ndarray, scales: np.ndarray, output_size: Size,
                rotations: np.ndarray | None = None, device: torch.device | str | None = None
                ) -> torch.Tensor:
    """All people's crops in one bilinear `grid_sample` -> float32 (N,3,H,W), RGB 0-255.

    Pixel for pixel what `cv2.warpAffine(image, warp_matrix(...)[n], output_size)` gives (bilinear,
    zeros outside the image), so a keypoint mapped by warp_matrix lands on the right crop pixel.
    image_rgb: HxWx3 (uint8, or float for exact tests); centers, scales (N,2); rotations (N,) deg.
    """
    image = _image(image_rgb)
    if image.ndim != 3:
        raise InputError(f"image has shape {image.shape}: pass an HxWxC array")
    out_w, out_h = _size(output_size, "output_size")
    crop_to_src = invert_affine(warp_matrix(centers, scales, rotations, (out_w, out_h)))  # (N, 2, 3)
    n, channels = len(crop_to_src), image.shape[2]
    # only the part of the image the crops read is converted and sampled: bilinear reads up to
    # floor(x) + 1, and one more pixel of margin keeps samples off the cut; where the part ends at
    # the image border, zero padding applies as before
    corners = np.array([[-0.5, -0.5], [out_w - 0.5, -0.5], [-0.5, out_h - 0.5], [out_w - 0.5, out_h - 0.5]])
    footprint = apply_affine(np.broadcast_to(corners, (n, 4, 2)), crop_to_src).reshape(-1, 2)
    limits = np.array(image.shape[1::-1])
    x0, y0 = np.clip(np.floor(footprint.min(0, initial=np.inf)) - 1, 0, limits).astype(int)
    x1, y1 = np.clip(np.floor(footprint.max(0, initial=-np.inf)) + 3, 0, limits).astype(int)
    if n == 0 or x1 <= x0 or y1 <= y0:
        return torch.zeros((n, channels, out_h, out_w), device=device)
    sub_w, sub_h = x1 - x0, y1 - y0
    # grid_sample reads [-1, 1] coordinates (align_corners=False: -1 is the left edge of pixel 0)
    image_to_norm = np.array([[2 / sub_w, 0, (1 - 2 * x0) / sub_w - 1],
                              [0, 2 / sub_h, (1 - 2 * y0) / sub_h - 1]])
    crop_to_norm = image_to_norm @ _as_3x3(crop_to_src)  # (N, 2, 3)
    planes = image[y0:y1, x0:x1].transpose(2, 0, 1)  # (C, h, w)
    if torch.device(device or "cpu").type == "cpu":  # numpy's uint8 -> float is the faster one here
        src = torch.from_numpy(np.ascontiguousarray(planes, dtype=np.float32))
    else:  # send uint8, convert on the device
        src = torch.from_numpy(np.ascontiguousarray(planes)).to(device).to(torch.float32)
    # the sampling grid straight from crop pixels (j, i): grid = crop_to_norm @ (j, i, 1)
    A = torch.as_tensor(crop_to_norm, dtype=torch.float32, device=src.device)[:, None, None]  # (N,1,1,2,3)
    xs = torch.arange(out_w, dtype=torch.float32, device=src.device)[None, None, :, None]
    ys = torch.arange(out_h, dtype=torch.float32, device=src.device)[None, :, None, None]
    grid = A[..., 0] * xs + A[..., 1] * ys + A[..., 2]  # (N, H', W', 2)
    # the crops of one image share it: stack the grids so the image is never copied N times
    crops = F.grid_sample(src[None], grid.reshape(1, n * out_h, out_w, 2), mode="bilinear",
                          padding_mode="zeros", align_corners=False)  # (1, C, N*H', W')
    return crops.reshape(channels, n, out_h, out_w).permute(1, 0, 2, 3).contiguous()


def crop_to_image(keypoints_in_crop: np.ndarray, center: np.ndarray, scale: np.ndarray,
                  output_size: Size, rotation_deg: np.ndarray | None = None) -> np.ndarray:
    """Keypoints (N,K,2) in crop pixels -> image pixels.

    Without rotation: kpt / output_size · scale + center − 0.5·scale, MMPose's and
    `TopDownModel.decode`'s formula (exact inverse of warp_matrix when scale has the crop's
    aspect). With rotation_deg (N,): the inverse of warp_matrix.
    """
    kpts = np.asarray(keypoints_in_crop, dtype=np.float64)
    center = np.asarray(center, dtype=np.float64).reshape(-1, 1, 2)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 1, 2)
    if rotation_deg is None:
        return kpts / np.asarray(_size(output_size, "output_size"), np.float64) * scale + center - 0.5 * scale
    M = warp_matrix(center[:, 0], scale[:, 0], rotation_deg, output_size)
    return apply_affine(kpts, invert_affine(M))


def _truncated_normal(rng: np.random.Generator, shape) -> np.ndarray:
    """Standard normal samples truncated to [-1, 1] (the law of scipy's truncnorm(-1, 1)).

    Rejection sampling: 68% of draws are kept, so a few vectorised rounds fill any shape.
    """
    out = rng.standard_normal(shape)
    rejected = np.abs(out) > 1
    while rejected.any():
        out[rejected] = rng.standard_normal(int(rejected.sum()))
        rejected = np.abs(out) > 1
    return out


def random_box_transform(rng: np.random.Generator, center: np.ndarray, scale: np.ndarray,
                         shift: float = 0.16, shift_prob: float = 0.3,
                         scale_range: tuple[float, float] = (0.6, 1.4), scale_prob: float = 1.0,
                         rotation: float = 80.0, rotation_prob: float = 0.6
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MMPose's RandomBBoxTransform: jitter crop boxes -> (center (N,2), scale (N,2), rotation_deg (N,)).

    Each factor is a truncnorm(-1, 1) draw: center += shift·u·scale, scale *= mid + half·u over
    scale_range, rotation = rotation·u degrees, each applied with its probability. Defaults are
    RTMPose stage 1; stage 2 is shift=0, scale_range=(0.75, 1.25), rotation=60.
    """
    rng = np.random.default_rng(rng)
    center = np.asarray(center, dtype=np.float64).reshape(-1, 2)
    scale = np.asarray(scale, dtype=np.float64).reshape(-1, 2)
    n = len(center)
    u = _truncated_normal(rng, (n, 4))
    offset = np.where(rng.random((n, 1)) < shift_prob, u[:, :2] * shift, 0.0)
    lo, hi = scale_range
    factor = np.where(rng.random((n, 1)) < scale_prob, u[:, 2:3] * (hi - lo) / 2 + (hi + lo) / 2, 1.0)
    angle = np.where(rng.random(n) < rotation_prob, u[:, 3] * rotation, 0.0)
    return center + offset * scale, scale * factor, angle


# --------------------------------------------------------------------------- flips

def flip_points(points: np.ndarray, image_width: int) -> np.ndarray:
    """Mirror points (..., 2) in an image of this width: x -> w - 1 - x (as cv2.flip moves pixels)."""
    out = np.array(points, dtype=np.float64)
    out[..., 0] = image_width - 1 - out[..., 0]
    return out


def flip_keypoints(keypoints: np.ndarray, visible: np.ndarray, image_width: int,
                   flip_indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """Horizontal flip of keypoints (N,K,2) and their visibility (N,K): mirror x, swap left/right.

    flip_indices: `Skeleton.flip_indices`, the index of each keypoint's mirror twin.
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    flip_indices = np.asarray(flip_indices)
    if keypoints.shape[-1] != 2 or keypoints.ndim < 2 or keypoints.shape[-2] != len(flip_indices):
        raise InputError(f"keypoints have shape {keypoints.shape} but flip_indices has "
                         f"{len(flip_indices)} entries: pass (N, K, 2) with K = len(flip_indices)")
    flipped = flip_points(keypoints[..., flip_indices, :], image_width)
    return flipped, np.asarray(visible)[..., flip_indices]


def flip_boxes(boxes_xyxy: np.ndarray, image_width: int) -> np.ndarray:
    """Mirror xyxy boxes (N,4): x1' = w - 1 - x2, x2' = w - 1 - x1 (MMPose's flip_bbox)."""
    boxes = np.asarray(boxes_xyxy, dtype=np.float64)
    return np.concatenate([image_width - 1 - boxes[..., 2:3], boxes[..., 1:2],
                           image_width - 1 - boxes[..., 0:1], boxes[..., 3:4]], -1)


def flip_matrix(image_width: int) -> np.ndarray:
    """The horizontal flip as an affine (2,3): its own inverse; warp_image with it == cv2.flip."""
    return np.array([[-1.0, 0.0, image_width - 1.0], [0.0, 1.0, 0.0]])


def hflip(image: np.ndarray, keypoints: np.ndarray, boxes_xyxy: np.ndarray,
          flip_indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flip a whole image with its annotations: keypoints (N,K,3) x, y, v and boxes (N,4) xyxy.

    Unlabelled keypoints (v = 0) stay at (0, 0).
    """
    image = _image(image)
    width = image.shape[1]
    kpts = np.asarray(keypoints, dtype=np.float64)
    xy, v = flip_keypoints(kpts[..., :2], kpts[..., 2], width, flip_indices)
    xy = np.where(v[..., None] > 0, xy, 0.0)
    return cv2.flip(image, 1), np.concatenate([xy, v[..., None]], -1), flip_boxes(boxes_xyxy, width)


# --------------------------------------------------------------------------- whole-image geometry

def letterbox(image: np.ndarray, size: int | Size, pad_value: int = 114) -> tuple[np.ndarray, np.ndarray]:
    """Resize to fit `size` (w, h) keeping the aspect, pad the rest evenly (Ultralytics LetterBox).

    Returns the letterboxed image and M (2,3), image -> letterboxed pixels, exact for cv2.resize's
    bilinear sampling (x' = (x + 0.5)·new_w / w − 0.5 + left); invert_affine(M) maps back.
    """
    image = _image(image)
    out_w, out_h = _size(size)
    h, w = image.shape[:2]
    r = min(out_w / w, out_h / h)
    new_w, new_h = max(1, int(round(w * r))), max(1, int(round(h * r)))
    left, top = int(round((out_w - new_w) / 2 - 0.1)), int(round((out_h - new_h) / 2 - 0.1))
    if (new_w, new_h) != (w, h):
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    channels = 1 if image.ndim == 2 else image.shape[2]
    boxed = cv2.copyMakeBorder(image, top, out_h - new_h - top, left, out_w - new_w - left,
                               cv2.BORDER_CONSTANT, value=(pad_value,) * channels)
    sx, sy = new_w / w, new_h / h
    M = np.array([[sx, 0.0, left + 0.5 * sx - 0.5], [0.0, sy, top + 0.5 * sy - 0.5]])
    return boxed, M


def random_affine_matrix(rng: np.random.Generator, size: int | Size, degrees: float = 0.0,
                         translate: float = 0.1, scale: float = 0.5, shear: float = 0.0,
                         image_size: Size | None = None) -> np.ndarray:
    """YOLO-style random affine (2,3), image (image_size, default size) -> output of `size` (w, h).

    M = T·S·R·C: C moves the image centre to the origin; R rotates by U(±degrees) and scales by
    U(1 ± scale) (cv2.getRotationMatrix2D); S shears x and y by U(±shear) degrees; T puts the
    centre at U(0.5 ± translate) of the output. With all ranges 0 and equal sizes, M is the identity.
    """
    rng = np.random.default_rng(rng)
    out_w, out_h = _size(size)
    in_w, in_h = _size(image_size if image_size is not None else (out_w, out_h), "image_size")
    angle = np.deg2rad(rng.uniform(-degrees, degrees))
    s = rng.uniform(1 - scale, 1 + scale)
    shear_x, shear_y = np.tan(np.deg2rad(rng.uniform(-shear, shear, 2)))
    tx, ty = rng.uniform(0.5 - translate, 0.5 + translate, 2) * (out_w, out_h) - 0.5
    C = np.array([[1, 0, -(in_w - 1) / 2], [0, 1, -(in_h - 1) / 2], [0, 0, 1]])
    R = np.array([[s * np.cos(angle), s * np.sin(angle), 0], [-s * np.sin(angle), s * np.cos(angle), 0],
                  [0, 0, 1]])
    S = np.array([[1, shear_x, 0], [shear_y, 1, 0], [0, 0, 1]])
    T = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    return (T @ S @ R @ C)[:2]


def warp_image(image: np.ndarray, M: np.ndarray, size: int | Size, pad_value: int = 114) -> np.ndarray:
    """cv2.warpAffine with bilinear sampling; pixels from outside the image get pad_value."""
    image = _image(image)
    channels = 1 if image.ndim == 2 else image.shape[2]
    return cv2.warpAffine(image, np.asarray(M, dtype=np.float64), _size(size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(pad_value,) * channels)


def transform_annotations(keypoints: np.ndarray, boxes_xyxy: np.ndarray, M: np.ndarray,
                          size: int | Size) -> tuple[np.ndarray, np.ndarray]:
    """Move annotations by M into an image of `size` (w, h).

    keypoints (N,K,3) x, y, v: mapped; those that were unlabelled or land outside the image get
    v = 0 and x = y = 0. boxes (N,4) xyxy: the box around the four mapped corners, clipped to the
    image (people who leave it end with zero width or height; callers drop them).
    """
    w, h = _size(size)
    kpts = np.asarray(keypoints, dtype=np.float64)
    boxes = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    if kpts.ndim != 3 or kpts.shape[-1] != 3 or len(kpts) != len(boxes):
        raise InputError(f"keypoints {kpts.shape} and boxes {boxes.shape} do not match: pass "
                         f"keypoints (N, K, 3) and boxes (N, 4)")
    xy = apply_affine(kpts[..., :2], M)  # (N, K, 2)
    inside = (xy >= 0).all(-1) & (xy[..., 0] <= w - 1) & (xy[..., 1] <= h - 1)
    keep = inside & (kpts[..., 2] > 0)  # (N, K)
    out_kpts = np.concatenate([np.where(keep[..., None], xy, 0.0),
                               np.where(keep, kpts[..., 2], 0.0)[..., None]], -1)
    corners = boxes[:, [[0, 1], [2, 1], [2, 3], [0, 3]]]  # (N, 4, 2)
    moved = apply_affine(corners, M)
    out_boxes = np.concatenate([moved.min(1), moved.max(1)], -1)  # (N, 4)
    out_boxes = np.clip(out_boxes, 0.0, np.array([w - 1, h - 1, w - 1, h - 1], dtype=np.float64))
    return out_kpts, out_boxes


# --------------------------------------------------------------------------- photometric

def _apply_hsv_luts(image: np.ndarray, lut_h: np.ndarray, lut_s: np.ndarray,
                    lut_v: np.ndarray) -> np.ndarray:
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"HSV augmentation needs an HxWx3 uint8 RGB image, got {image.shape} "
                         f"{image.dtype}")
    h, s, v = cv2.split(cv2.cvtColor(image, cv2.COLOR_RGB2HSV))
    hsv = cv2.merge([cv2.LUT(h, lut_h.astype(np.uint8)), cv2.LUT(s, lut_s.astype(np.uint8)),
                     cv2.LUT(v, lut_v.astype(np.uint8))])
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def hsv_jitter(rng: np.random.Generator, image: np.ndarray, hue: float = 0.015,
               saturation: float = 0.7, value: float = 0.4) -> np.ndarray:
    """Ultralytics HSV augmentation on RGB uint8: multiply H, S, V by gains 1 + U(±hue, ±sat, ±val).

    OpenCV's 8-bit hue runs 0..179, so hue wraps modulo 180; S and V clip to 0..255.
    """
    gains = np.random.default_rng(rng).uniform(-1, 1, 3) * (hue, saturation, value) + 1
    x = np.arange(256, dtype=np.float64)
    return _apply_hsv_luts(np.asarray(image), (x * gains[0]) % 180, np.clip(x * gains[1], 0, 255),
                           np.clip(x * gains[2], 0, 255))


def hsv_shift(rng: np.random.Generator, image: np.ndarray, hue: int = 5, saturation: int = 30,
              value: int = 30) -> np.ndarray:
    """YOLOX HSV augmentation (mmdet YOLOXHSVRandomAug, used by RTMPose) on RGB uint8.

    Adds integer offsets U(±hue, ±sat, ±val), each channel switched on with probability 1/2;
    hue wraps modulo 180, S and V clip to 0..255.
    """
    rng = np.random.default_rng(rng)
    offsets = (rng.uniform(-1, 1, 3) * (hue, saturation, value) * rng.integers(0, 2, 3)).astype(np.int64)
    x = np.arange(256, dtype=np.int64)
    return _apply_hsv_luts(np.asarray(image), (x + offsets[0]) % 180, np.clip(x + offsets[1], 0, 255),
                           np.clip(x + offsets[2], 0, 255))
