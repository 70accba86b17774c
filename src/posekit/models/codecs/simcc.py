"""SimCC: keypoint coordinates as two 1-D classifications over sub-pixel bins (Li et al., 2022).

    codec = SimCCCodec(input_size=(256, 192), sigma=(4.9, 5.66), normalize=False)   # RTMPose
    target_x, target_y, weights = codec.encode(keypoints, keypoint_weights)       # (B,K,384), (B,K,512)
    keypoints, scores = codec.decode(simcc_x, simcc_y)                             # input pixels

Matches mmpose's `SimCCLabel` (gaussian smoothing, no DARK) and `get_simcc_maximum`, vectorised
over the batch in torch.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

from posekit.core.errors import ConfigError, InputError


class SimCCCodec:
    """Encode keypoints in crop-input pixels to 1-D Gaussian labels; decode logits back.

    input_size: (H, W) of the crops. sigma: one value or (sigma_x, sigma_y), in bins.
    split_ratio: bins per pixel; there are round(W * split_ratio) x-bins and round(H * split_ratio) y-bins.
    normalize: divide the labels by sigma * sqrt(2 pi) (mmpose's default; RTMPose turns it off).
    """

    def __init__(self, input_size: tuple[int, int], sigma: float | tuple[float, float] = 6.0,
                 split_ratio: float = 2.0, normalize: bool = True):
        sigma = (float(sigma),) * 2 if isinstance(sigma, (int, float)) else tuple(map(float, sigma))
        if len(sigma) != 2 or min(sigma) <= 0 or split_ratio <= 0:
            raise ConfigError(f"SimCC needs positive sigma (x, y) and split_ratio; got sigma={sigma}, "
                              f"split_ratio={split_ratio}")
        self.input_size = tuple(input_size)
        self.sigma = sigma
        self.split_ratio = float(split_ratio)
        self.normalize = normalize
        self.num_bins = (round(input_size[1] * split_ratio), round(input_size[0] * split_ratio))  # (x, y)

    def encode(self, keypoints: torch.Tensor, keypoint_weights: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """keypoints (B, K, 2) in input pixels, keypoint_weights (B, K) (0 = not labelled) ->
        target_x (B, K, W * split), target_y (B, K, H * split), target_weights (B, K).

        A keypoint gets weight 0 and all-zero labels when its weight is 0, it is not finite, or its
        3-sigma window lies entirely outside the bins.
        """
        if keypoints.ndim != 3 or keypoints.shape[-1] != 2 or keypoint_weights.shape != keypoints.shape[:2]:
            raise InputError(f"SimCC encode expects keypoints (B,K,2) and weights (B,K); got "
                             f"{tuple(keypoints.shape)} and {tuple(keypoint_weights.shape)}")
        finite = torch.isfinite(keypoints).all(-1)
        mu = torch.round(torch.where(finite[..., None], keypoints, 0.0).float() * self.split_ratio)  # (B,K,2)
        sigma = mu.new_tensor(self.sigma)
        size = mu.new_tensor(self.num_bins)
        low, high = mu - 3 * sigma, mu + 3 * sigma + 1
        inside = ((low < size) & (high >= 0)).all(-1)  # (B, K)
        valid = finite & inside & (keypoint_weights > 0)
        target_x = self._gaussian(mu[..., 0], self.sigma[0], self.num_bins[0], valid)
        target_y = self._gaussian(mu[..., 1], self.sigma[1], self.num_bins[1], valid)
        return target_x, target_y, torch.where(valid, keypoint_weights, 0).to(mu.dtype)

    def _gaussian(self, mu: torch.Tensor, sigma: float, num_bins: int, valid: torch.Tensor) -> torch.Tensor:
        """mu (B, K) bin centres -> (B, K, num_bins) labels, zero where not valid."""
        bins = torch.arange(num_bins, dtype=mu.dtype, device=mu.device)
        target = torch.exp(-(bins - mu[..., None]) ** 2 / (2 * sigma ** 2)) * valid[..., None]
        return target / (sigma * math.sqrt(2 * math.pi)) if self.normalize else target

    def decode(self, simcc_x: torch.Tensor, simcc_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """simcc_x (B, K, Wx), simcc_y (B, K, Wy) logits -> keypoints (B, K, 2) in input pixels,
        scores (B, K) = min of the x and y maxima of the raw logits.

        Where the score is <= 0 the location is bin -1, i.e. -1 / split_ratio pixels (as mmpose).
        """
        scores = torch.minimum(simcc_x.amax(-1), simcc_y.amax(-1))  # (B, K)
        bins = torch.stack([simcc_x.argmax(-1), simcc_y.argmax(-1)], -1).to(simcc_x.dtype)  # (B, K, 2)
        bins = torch.where((scores <= 0)[..., None], -1.0, bins)
        return bins / self.split_ratio, scores


def flip_simcc(simcc_x: torch.Tensor, simcc_y: torch.Tensor, flip_indices: Sequence[int]
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """SimCC vectors of a horizontally flipped crop -> the unflipped layout (mmpose `flip_vectors`).

    Keypoints are swapped left/right by flip_indices; x-vectors are reversed along the bins (no shift).
    simcc_x (B, K, Wx), simcc_y (B, K, Wy) -> same shapes.
    """
    if len(flip_indices) != simcc_x.shape[1]:
        raise InputError(f"flip_indices has {len(flip_indices)} entries for {simcc_x.shape[1]} keypoints: "
                         "use the skeleton the model was built with")
    index = torch.as_tensor(list(flip_indices), device=simcc_x.device)
    return simcc_x[:, index].flip(-1), simcc_y[:, index]
