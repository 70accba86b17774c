"""2-D Gaussian heatmap codecs: MSRA (SimpleBaseline/HRNet), DARK and UDP, vectorised over (B, K).

    codec = MSRAHeatmap(input_size=(256, 192), heatmap_size=(64, 48), sigma=2.0)   # SimpleBaseline
    heatmaps, weights = codec.encode(keypoints, keypoint_weights)                   # (B,K,64,48), (B,K)
    keypoints, scores = codec.decode(predicted_heatmaps)                            # input pixels

Sizes are (H, W). Each codec follows the MMPose codec of the same name:

- `MSRAHeatmap`: the keypoint maps to heatmap coordinates by heatmap/input, the Gaussian (sigma 2)
  sits on the nearest pixel inside a (6 sigma + 1)^2 window; decoding is the arg-max moved a quarter
  pixel towards the higher neighbour. `unbiased=True` is DARK (Zhang et al., CVPR 2020): the
  Gaussian sits on the exact sub-pixel location and decoding takes a second-order Taylor step on
  the log of the blurred heatmap.
- `UDPHeatmap` (Huang et al., CVPR 2020): heatmap coordinates = input coordinates x
  (heatmap - 1) / (input - 1), so the first and last pixel centres of both grids coincide; the
  Gaussian sits on the exact sub-pixel location; decoding is UDP's DARK variant.

Keypoints whose weight is below 0.5 (or that are not finite) get an all-zero heatmap; a keypoint
whose Gaussian window lies entirely outside the heatmap also gets weight 0.
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from posekit.core.errors import ConfigError, InputError


# ----------------------------------------------------------------------------------------------
# encoding


def gaussian_heatmaps(points: torch.Tensor, weights: torch.Tensor, heatmap_size: tuple[int, int],
                      sigma: float, subpixel: bool, windowed: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian targets at heatmap coordinates.

    points: (B, K, 2) x, y in heatmap pixels. weights: (B, K).
    subpixel: centre the Gaussian on the exact point (UDP, DARK) instead of the nearest pixel (MSRA).
    windowed: cut the Gaussian to the (6 sigma + 1)^2 window around the nearest pixel (MSRA, UDP);
        DARK's encoding keeps the whole Gaussian.
    Returns heatmaps (B, K, h, w) with peak 1, weights (B, K) (0 where the window misses the map).
    """
    h, w = heatmap_size
    finite = torch.isfinite(points).all(-1)  # (B, K)
    points = torch.where(finite[..., None], points, torch.zeros_like(points))
    radius = 3.0 * sigma
    nearest = torch.trunc(points + 0.5)  # MMPose's (p + 0.5).astype(int)
    centre = points if subpixel else nearest
    if windowed:
        low, high = torch.trunc(nearest - radius), torch.trunc(nearest + radius + 1)  # (B, K, 2)
    else:
        low, high = points - radius, points + radius + 1
    outside = (low[..., 0] >= w) | (low[..., 1] >= h) | (high[..., 0] < 0) | (high[..., 1] < 0)  # (B, K)
    drawn = finite & (weights >= 0.5) & ~outside

    def axis_profile(n: int, axis: int) -> torch.Tensor:  # (B, K, n)
        grid = torch.arange(n, dtype=points.dtype, device=points.device)
        profile = torch.exp(-(grid - centre[..., axis, None]) ** 2 / (2 * sigma ** 2))
        if windowed:
            profile = profile * ((grid >= low[..., axis, None]) & (grid < high[..., axis, None]))
        return profile

    heatmaps = axis_profile(h, 1)[..., :, None] * axis_profile(w, 0)[..., None, :]  # (B, K, h, w)
    heatmaps = heatmaps * drawn[..., None, None]
    weights = weights * (finite & ~outside)
    return heatmaps, weights


# ----------------------------------------------------------------------------------------------
# decoding


def heatmap_argmax(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """heatmaps (B, K, h, w) -> locations (B, K, 2) x, y of each maximum, scores (B, K) = the maxima.
    Locations are -1 where the maximum is not positive (MMPose's convention)."""
    b, k, h, w = heatmaps.shape
    scores, index = heatmaps.flatten(2).max(-1)  # (B, K)
    locs = torch.stack([index % w, torch.div(index, w, rounding_mode="floor")], -1).to(heatmaps.dtype)
    locs = torch.where((scores > 0)[..., None], locs, torch.full_like(locs, -1.0))
    return locs, scores


def _sample(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """maps (B, K, h, w), integer x, y (B, K) (clamped into the map) -> values (B, K)."""
    h, w = maps.shape[-2:]
    index = y.clamp(0, h - 1) * w + x.clamp(0, w - 1)
    return maps.flatten(2).gather(2, index.unsqueeze(-1)).squeeze(-1)


def gaussian_blur(heatmaps: torch.Tensor, kernel_size: int = 11) -> torch.Tensor:
    """DARK's modulation: blur each map with a Gaussian (zero padding; sigma from OpenCV's rule
    0.3 ((k - 1) / 2 - 1) + 0.8, which is 2 for k = 11) and rescale it to keep its maximum.
    heatmaps (B, K, h, w) -> (B, K, h, w)."""
    if kernel_size % 2 != 1 or kernel_size < 3:
        raise ConfigError(f"blur kernel size must be odd and >= 3, got {kernel_size}")
    b, k, h, w = heatmaps.shape
    sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8
    offsets = torch.arange(kernel_size, dtype=heatmaps.dtype, device=heatmaps.device) - (kernel_size - 1) / 2
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    kernel = kernel / kernel.sum()
    pad = (kernel_size - 1) // 2
    maps = heatmaps.reshape(b * k, 1, h, w)
    blurred = F.conv2d(maps, kernel.view(1, 1, -1, 1), padding=(pad, 0))
    blurred = F.conv2d(blurred, kernel.view(1, 1, 1, -1), padding=(0, pad)).view(b, k, h, w)
    original_max = heatmaps.flatten(2).amax(-1)[..., None, None]
    blurred_max = blurred.flatten(2).amax(-1)[..., None, None]
    scale = torch.where(blurred_max != 0, original_max / blurred_max, torch.ones_like(blurred_max))
    return blurred * scale


def refine_quarter_offset(locs: torch.Tensor, heatmaps: torch.Tensor) -> torch.Tensor:
    """SimpleBaseline's refinement: move each arg-max 0.25 px towards its higher neighbour along x
    and along y. locs (B, K, 2) integer-valued, heatmaps (B, K, h, w) -> locs (B, K, 2)."""
    h, w = heatmaps.shape[-2:]
    x, y = locs[..., 0].long(), locs[..., 1].long()
    # the bounds are MMPose's (`1 < x < W - 1 and 0 < y < H`), kept so results agree to the pixel
    has_dx = (x > 1) & (x < w - 1) & (y > 0) & (y < h)
    has_dy = (y > 1) & (y < h - 1) & (x > 0) & (x < w)
    dx = (_sample(heatmaps, x + 1, y) - _sample(heatmaps, x - 1, y)) * has_dx
    dy = (_sample(heatmaps, x, y + 1) - _sample(heatmaps, x, y - 1)) * has_dy
    return locs + 0.25 * torch.stack([dx.sign(), dy.sign()], -1)


def _newton_step(dx, dy, dxx, dxy, dyy) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """-H^-1 g for the 2x2 Hessian [[dxx, dxy], [dxy, dyy]] and gradient (dx, dy), all (B, K);
    returns (offset_x, offset_y, invertible)."""
    det = dxx * dyy - dxy * dxy
    invertible = det != 0
    det = torch.where(invertible, det, torch.ones_like(det))
    return -(dyy * dx - dxy * dy) / det, -(dxx * dy - dxy * dx) / det, invertible


def refine_dark(locs: torch.Tensor, heatmaps: torch.Tensor, blur_kernel_size: int = 11) -> torch.Tensor:
    """DARK: one Newton step on the log of the blurred heatmap from each arg-max (MMPose's
    `refine_keypoints_dark`: +-1 px central gradient, +-2 px second differences; keypoints closer
    than 2 px to the border stay where they are). locs (B, K, 2), heatmaps (B, K, h, w) -> (B, K, 2)."""
    h, w = heatmaps.shape[-2:]
    logmap = gaussian_blur(heatmaps, blur_kernel_size).clamp_min(1e-10).log()
    x, y = locs[..., 0].long(), locs[..., 1].long()

    def at(ox: int, oy: int) -> torch.Tensor:
        return _sample(logmap, x + ox, y + oy)

    dx = 0.5 * (at(1, 0) - at(-1, 0))
    dy = 0.5 * (at(0, 1) - at(0, -1))
    dxx = 0.25 * (at(2, 0) - 2 * at(0, 0) + at(-2, 0))
    dyy = 0.25 * (at(0, 2) - 2 * at(0, 0) + at(0, -2))
    dxy = 0.25 * (at(1, 1) - at(1, -1) - at(-1, 1) + at(-1, -1))
    off_x, off_y, invertible = _newton_step(dx, dy, dxx, dxy, dyy)
    interior = (x > 1) & (x < w - 2) & (y > 1) & (y < h - 2) & invertible
    return locs + torch.stack([off_x, off_y], -1) * interior[..., None]


def refine_dark_udp(locs: torch.Tensor, heatmaps: torch.Tensor, blur_kernel_size: int = 11) -> torch.Tensor:
    """UDP's DARK variant (MMPose's `refine_keypoints_dark_udp`): log of the blurred heatmap clipped
    to [1e-3, 50], edge-padded by 1 px, +-1 px differences everywhere, a small ridge on the Hessian.
    locs (B, K, 2), heatmaps (B, K, h, w) -> (B, K, 2)."""
    logmap = gaussian_blur(heatmaps, blur_kernel_size).clamp(1e-3, 50.0).log()
    logmap = F.pad(logmap, (1, 1, 1, 1), mode="replicate")  # (B, K, h+2, w+2)
    x, y = locs[..., 0].long() + 1, locs[..., 1].long() + 1

    def at(ox: int, oy: int) -> torch.Tensor:
        return _sample(logmap, x + ox, y + oy)

    centre, right, left, down, up = at(0, 0), at(1, 0), at(-1, 0), at(0, 1), at(0, -1)
    dx, dy = 0.5 * (right - left), 0.5 * (down - up)
    dxx = right - 2 * centre + left
    dyy = down - 2 * centre + up
    dxy = 0.5 * (at(1, 1) - right - down + 2 * centre - left - up + at(-1, -1))
    eps = torch.finfo(torch.float32).eps
    off_x, off_y, invertible = _newton_step(dx, dy, dxx + eps, dxy, dyy + eps)
    return locs + torch.stack([off_x, off_y], -1) * invertible[..., None]


def flip_heatmaps(heatmaps: torch.Tensor, flip_indices: Sequence[int], shift: bool) -> torch.Tensor:
    """Heatmaps predicted on horizontally flipped crops -> the unflipped layout (MMPose's
    `flip_heatmaps(..., flip_mode='heatmap', shift_heatmap=shift)`): mirror along x, swap
    left/right channels, and with `shift` move everything one pixel right (MSRA's pixel grid is
    off by one under flipping; UDP's is not). heatmaps (B, K, h, w) -> (B, K, h, w)."""
    if len(flip_indices) != heatmaps.shape[1]:
        raise InputError(f"flip_indices has {len(flip_indices)} entries but the heatmaps have "
                         f"{heatmaps.shape[1]} channels: use the skeleton the model was built with")
    flipped = heatmaps.flip(-1)[:, list(flip_indices)]
    if shift:
        flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], -1)
    return flipped


# ----------------------------------------------------------------------------------------------
# codecs


class _HeatmapCodec:
    """Shared checks and arg-max; subclasses set the coordinate scale and the refinement."""

    flip_shift: bool

    def __init__(self, input_size: tuple[int, int], heatmap_size: tuple[int, int], sigma: float = 2.0,
                 blur_kernel_size: int = 11):
        if len(input_size) != 2 or len(heatmap_size) != 2 or min(*input_size, *heatmap_size) < 2:
            raise ConfigError(f"heatmap codec needs (H, W) sizes of at least 2 px; got input_size={input_size}, "
                              f"heatmap_size={heatmap_size}")
        if sigma <= 0:
            raise ConfigError(f"heatmap sigma must be positive, got {sigma}")
        if blur_kernel_size % 2 != 1 or blur_kernel_size < 3:
            raise ConfigError(f"blur_kernel_size must be odd and >= 3 (11 for sigma 2), got {blur_kernel_size}")
        self.input_size = tuple(int(s) for s in input_size)
        self.heatmap_size = tuple(int(s) for s in heatmap_size)
        self.sigma = float(sigma)
        self.blur_kernel_size = int(blur_kernel_size)

    def scale_xy(self, like: torch.Tensor) -> torch.Tensor:
        """(2,) input pixels per heatmap pixel along x and y."""
        raise NotImplementedError

    def _check(self, keypoints: torch.Tensor, keypoint_weights: torch.Tensor) -> None:
        if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or keypoint_weights.shape != keypoints.shape[:2]:
            raise InputError(f"heatmap encode expects keypoints (B,K,2) and keypoint_weights (B,K); got "
                             f"{tuple(keypoints.shape)} and {tuple(keypoint_weights.shape)}")

    def _check_heatmaps(self, heatmaps: torch.Tensor) -> None:
        if heatmaps.ndim != 4 or tuple(heatmaps.shape[-2:]) != self.heatmap_size:
            raise InputError(f"heatmap decode expects (B,K,{self.heatmap_size[0]},{self.heatmap_size[1]}) "
                             f"heatmaps; got {tuple(heatmaps.shape)}")


class MSRAHeatmap(_HeatmapCodec):
    """SimpleBaseline/HRNet heatmaps; `unbiased=True` switches to DARK encoding and decoding.

    input_size, heatmap_size: (H, W). sigma: Gaussian sigma in heatmap pixels.
    blur_kernel_size: DARK's modulation kernel (11 for sigma 2, 17 for sigma 3).
    """

    flip_shift = True

    def __init__(self, input_size: tuple[int, int], heatmap_size: tuple[int, int], sigma: float = 2.0,
                 unbiased: bool = False, blur_kernel_size: int = 11):
        super().__init__(input_size, heatmap_size, sigma, blur_kernel_size)
        self.unbiased = unbiased

    def scale_xy(self, like: torch.Tensor) -> torch.Tensor:
        (ih, iw), (hh, hw) = self.input_size, self.heatmap_size
        return like.new_tensor([iw / hw, ih / hh])

    def encode(self, keypoints: torch.Tensor, keypoint_weights: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """keypoints (B, K, 2) in input pixels, keypoint_weights (B, K) ->
        heatmaps (B, K, h, w), target weights (B, K)."""
        self._check(keypoints, keypoint_weights)
        keypoints, keypoint_weights = keypoints.float(), keypoint_weights.float()
        points = keypoints / self.scale_xy(keypoints)
        return gaussian_heatmaps(points, keypoint_weights, self.heatmap_size, self.sigma,
                                 subpixel=self.unbiased, windowed=not self.unbiased)

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B, K, h, w) -> keypoints (B, K, 2) in input pixels, scores (B, K)."""
        self._check_heatmaps(heatmaps)
        heatmaps = heatmaps.detach().float()
        locs, scores = heatmap_argmax(heatmaps)
        if self.unbiased:
            locs = refine_dark(locs, heatmaps, self.blur_kernel_size)
        else:
            locs = refine_quarter_offset(locs, heatmaps)
        return locs * self.scale_xy(locs), scores


class UDPHeatmap(_HeatmapCodec):
    """Unbiased Data Processing heatmaps (Gaussian type), decoded with UDP's DARK.

    input_size, heatmap_size: (H, W). Heatmap pixel = input pixel x (heatmap - 1) / (input - 1).

    MMPose's `UDPHeatmap.decode` multiplies by input / (heatmap - 1) because its UDP crops map the
    box onto [0, input - 1]; posekit keeps the exact inverse of `encode`, so that decoded keypoints
    are in the same input-pixel frame as the targets.
    """

    flip_shift = False

    def scale_xy(self, like: torch.Tensor) -> torch.Tensor:
        (ih, iw), (hh, hw) = self.input_size, self.heatmap_size
        return like.new_tensor([(iw - 1) / (hw - 1), (ih - 1) / (hh - 1)])

    def encode(self, keypoints: torch.Tensor, keypoint_weights: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """keypoints (B, K, 2) in input pixels, keypoint_weights (B, K) ->
        heatmaps (B, K, h, w), target weights (B, K)."""
        self._check(keypoints, keypoint_weights)
        keypoints, keypoint_weights = keypoints.float(), keypoint_weights.float()
        points = keypoints / self.scale_xy(keypoints)
        return gaussian_heatmaps(points, keypoint_weights, self.heatmap_size, self.sigma, subpixel=True)

    def decode(self, heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B, K, h, w) -> keypoints (B, K, 2) in input pixels, scores (B, K)."""
        self._check_heatmaps(heatmaps)
        heatmaps = heatmaps.detach().float()
        locs, scores = heatmap_argmax(heatmaps)
        locs = refine_dark_udp(locs, heatmaps, self.blur_kernel_size)
        return locs * self.scale_xy(locs), scores
