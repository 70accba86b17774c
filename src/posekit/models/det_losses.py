"""Dense-detector losses: Quality Focal Loss (Li et al., GFL 2020) and GIoU loss.

Both return element-wise losses; the caller weights, sums and normalises (RTMDet divides both by
the sum of the positives' IoU targets).
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn

from posekit.nn.ops import giou


def quality_focal_loss(logits: Tensor, targets: Tensor, beta: float = 2.0) -> Tensor:
    """QFL: BCE against a soft target, scaled by |target - sigmoid(logit)|^beta.

    logits (..., C); targets (..., C) in [0, 1]: the IoU of the box for its class at positives, 0
    elsewhere. Returns the element-wise loss (..., C). With targets 0 this is the focal loss
    term sigmoid^beta * BCE(logit, 0).
    """
    modulator = (targets - logits.sigmoid()).abs().pow(beta)
    return F.binary_cross_entropy_with_logits(logits, targets, reduction="none") * modulator


def giou_loss(pred_boxes: Tensor, target_boxes: Tensor, eps: float = 1e-6) -> Tensor:
    """1 - GIoU of aligned xyxy boxes (..., 4), (..., 4) -> (...), in [0, 2]."""
    return 1.0 - giou(pred_boxes, target_boxes, aligned=True, eps=eps)


class QualityFocalLoss(nn.Module):
    """sum(QFL) * loss_weight / normaliser. logits, targets (..., C) -> scalar."""

    def __init__(self, beta: float = 2.0, loss_weight: float = 1.0):
        super().__init__()
        self.beta, self.loss_weight = beta, loss_weight

    def forward(self, logits: Tensor, targets: Tensor, normaliser: Tensor | float = 1.0) -> Tensor:
        return quality_focal_loss(logits, targets, self.beta).sum() * self.loss_weight / normaliser


class GIoULoss(nn.Module):
    """sum(weight * (1 - GIoU)) * loss_weight / normaliser. boxes (N, 4), (N, 4), weight (N,) -> scalar."""

    def __init__(self, loss_weight: float = 2.0, eps: float = 1e-6):
        super().__init__()
        self.loss_weight, self.eps = loss_weight, eps

    def forward(self, pred_boxes: Tensor, target_boxes: Tensor, weight: Tensor | None = None,
                normaliser: Tensor | float = 1.0) -> Tensor:
        loss = giou_loss(pred_boxes, target_boxes, self.eps)
        if weight is not None:
            loss = loss * weight
        return loss.sum() * self.loss_weight / normaliser
