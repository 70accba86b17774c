"""Keypoint similarity losses on the OKS-normalised error (ER-Pose, Li et al. 2026, eq. 6-9).

For keypoint i of a person, u_i = d_i / (s k_i): d_i the distance between prediction and ground
truth, s = sqrt(area) the person's scale, k_i the keypoint constant (COCO's OKS uses k_i = 2 sigma_i).
A similarity f(u) in (0, 1] is averaged over the labelled keypoints and the loss is 1 - that mean:

    "oks"      f(u) = exp(-u^2 / 2)                      Gaussian: COCO's OKS itself (eq. 7)
    "laplace"  f(u) = exp(-u)                            Laplace
    "soks"     f(u) = exp(-u^2 / 2)    for u <= 1        Smooth-OKS (eq. 8): the Gaussian near the
                      exp(1/2 - u)     for u > 1         target, a Laplace tail beyond u = 1

The printed eq. 8 is garbled; exp(1/2 - u) is the Laplace branch that meets the Gaussian with the
same value (e^-1/2) and the same slope (-e^-1/2) at u = 1, so SOKS is C^1. Its slope is bounded by
e^-1/2 everywhere and decays like e^-u instead of u e^(-u^2/2): far-off keypoints, common early in
training, still receive a usable gradient.

    loss = KeypointSimilarityLoss(sigmas_to_constants(skeleton.sigmas), kind="soks")
    per_person = loss(pred (N, K, 2), target (N, K, 2), visible (N, K), areas (N,))   # (N,)
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from posekit.core.errors import ConfigError

_HALF = 0.5


def gaussian_similarity(u: Tensor) -> Tensor:
    """exp(-u^2 / 2): the OKS term of one keypoint (eq. 7). u (...) >= 0 -> (...)"""
    return torch.exp(-0.5 * u * u)


def laplace_similarity(u: Tensor) -> Tensor:
    """exp(-u). u (...) >= 0 -> (...)"""
    return torch.exp(-u)


def smooth_oks_similarity(u: Tensor) -> Tensor:
    """Smooth-OKS (eq. 8): exp(-u^2 / 2) for u <= 1, exp(1/2 - u) beyond; value and slope agree at 1.

    Both branches are finite everywhere, so `torch.where` passes clean gradients. u (...) -> (...)
    """
    return torch.where(u <= 1.0, torch.exp(-0.5 * u * u), torch.exp(_HALF - u))


SIMILARITIES: dict[str, Callable[[Tensor], Tensor]] = {
    "soks": smooth_oks_similarity,
    "oks": gaussian_similarity,
    "laplace": laplace_similarity,
}


def similarity_function(kind: str) -> Callable[[Tensor], Tensor]:
    if kind not in SIMILARITIES:
        raise ConfigError(f"unknown keypoint loss '{kind}': use one of {sorted(SIMILARITIES)}")
    return SIMILARITIES[kind]


def sigmas_to_constants(sigmas: Sequence[float] | None, num_keypoints: int | None = None) -> np.ndarray:
    """Per-keypoint constants k_i of eq. 2 / 6: COCO's k_i = 2 sigma_i; 1 / K when there are no sigmas."""
    if sigmas is None:
        if not num_keypoints:
            raise ConfigError("keypoint constants need sigmas or the number of keypoints")
        return np.full(num_keypoints, 1.0 / num_keypoints, dtype=np.float32)
    return 2.0 * np.asarray(sigmas, dtype=np.float32)


def normalised_error(pred: Tensor, target: Tensor, areas: Tensor, constants: Tensor, eps: float = 1e-12) -> Tensor:
    """u = d / (s k) (eq. 6). pred, target (..., K, 2); areas (...) = s^2; constants (K,) -> (..., K).

    The distance is sqrt(d^2 + eps), so the gradient is 0 (not NaN) at a perfect prediction.
    """
    distance = torch.sqrt(((pred - target) ** 2).sum(-1) + eps)  # (..., K)
    scale = areas.clamp(min=eps).sqrt()[..., None] * constants  # (..., K)
    return distance / scale


class KeypointSimilarityLoss(nn.Module):
    """1 - (mean over labelled keypoints of f(u)), per person; f chosen by `kind` (soks | oks | laplace).

    constants (K,): k_i (see `sigmas_to_constants`). forward: pred, target (N, K, 2) in one pixel unit;
    visible (N, K) bool or {0, 1, 2} (labelled = > 0); areas (N,) s^2 in that unit squared -> (N,).
    A person without labelled keypoints gets 0.
    """

    def __init__(self, constants: Sequence[float], kind: str = "soks"):
        super().__init__()
        self.kind = kind
        self.similarity = similarity_function(kind)
        self.register_buffer("constants", torch.as_tensor(np.asarray(constants, dtype=np.float32)), persistent=False)

    def forward(self, pred: Tensor, target: Tensor, visible: Tensor, areas: Tensor) -> Tensor:
        u = normalised_error(pred, target, areas, self.constants.to(pred))  # (N, K)
        labelled = (visible > 0).to(pred.dtype)  # (N, K)
        count = labelled.sum(-1)  # (N,)
        mean = (self.similarity(u) * labelled).sum(-1) / count.clamp(min=1)
        return torch.where(count > 0, 1.0 - mean, torch.zeros_like(mean))

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}"
