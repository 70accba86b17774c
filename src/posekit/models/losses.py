"""Keypoint losses shared by top-down families.

    KLDiscretLoss(beta=10.0, label_softmax=True)   # RTMPose's SimCC loss
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class KLDiscretLoss(nn.Module):
    """KL divergence between softmax(pred * beta) and the (optionally softmaxed) SimCC labels.

    Per keypoint and axis the KL is averaged over bins and multiplied by the keypoint weight; the
    x and y terms are summed over batch and keypoints and divided by K (mmpose's reduction: the loss
    grows with the batch size).

    pred, target: pairs (x (B, K, Wx), y (B, K, Wy)); target_weight (B, K) -> scalar.
    """

    def __init__(self, beta: float = 1.0, label_softmax: bool = False, label_beta: float = 10.0,
                 use_target_weight: bool = True):
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta
        self.use_target_weight = use_target_weight

    def _kl_per_keypoint(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """pred, target (B, K, W) -> (B, K) KL averaged over bins."""
        log_p = F.log_softmax(pred.float() * self.beta, dim=-1)
        if self.label_softmax:
            target = F.softmax(target.float() * self.label_beta, dim=-1)
        return F.kl_div(log_p, target.float(), reduction="none").mean(-1)

    def forward(self, pred: tuple[torch.Tensor, torch.Tensor], target: tuple[torch.Tensor, torch.Tensor],
                target_weight: torch.Tensor) -> torch.Tensor:
        num_keypoints = pred[0].shape[1]
        weight = target_weight.float() if self.use_target_weight else 1.0
        loss = sum((self._kl_per_keypoint(p, t) * weight).sum() for p, t in zip(pred, target))
        return loss / num_keypoints
