"""Label assignment for dense detectors: which prior (grid point) learns which ground-truth box.

`DynamicSoftLabelAssigner` is RTMDet's (Lyu et al. 2022, mmdet's `DynamicSoftLabelAssigner`),
batched over images: ground truths are padded to M per image and masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from posekit.nn.ops import box_iou, box_to_distance

_NOT_A_CANDIDATE = 1e8  # cost of a (prior, GT) pair that may not be matched


@dataclass
class Assignment:
    """gt_index (B, A) long: the GT each prior learns, -1 for background;
    foreground (B, A) bool; ious (B, A): IoU of the prior's predicted box with that GT (0 if background).
    """

    gt_index: Tensor
    foreground: Tensor
    ious: Tensor


def _soft_class_cost(cls_logits: Tensor, gt_labels: Tensor, ious: Tensor) -> Tensor:
    """Sum over classes of QFL-style cost BCE(logit, target) * |target - sigmoid|^2 where the target
    is the IoU at the GT's class and 0 elsewhere.

    cls_logits (B, A, C), gt_labels (B, M) long, ious (B, A, M) -> (B, A, M). Computed as
    "all classes at target 0" minus "the GT's class at target 0" plus "the GT's class at its IoU",
    so no (B, A, M, C) tensor is made.
    """
    def cost(logits, targets):
        return (F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
                * (targets - logits.sigmoid()).pow(2))

    all_negative = cost(cls_logits, torch.zeros_like(cls_logits)).sum(-1)  # (B, A)
    b, a, _ = cls_logits.shape
    gt_logits = cls_logits.gather(2, gt_labels[:, None, :].expand(b, a, -1))  # (B, A, M)
    return all_negative[..., None] - cost(gt_logits, torch.zeros_like(gt_logits)) + cost(gt_logits, ious)


class DynamicSoftLabelAssigner:
    """SimOTA-style dynamic-k matching with RTMDet's soft costs.

    Candidates are priors whose point lies strictly inside some GT box of the image. For each
    (candidate, GT) pair:
        cost = soft class cost (QFL form, target = IoU)
             + iou_weight * -log(IoU + 1e-7)
             + 10 ** (distance(prior, GT centre) / stride - soft_center_radius)
    Each GT takes its k lowest-cost candidates, k = max(1, int(sum of its `topk` best IoUs));
    a prior taken by several GTs keeps the one of lowest cost.
    """

    def __init__(self, topk: int = 13, soft_center_radius: float = 3.0, iou_weight: float = 3.0):
        self.topk = topk
        self.soft_center_radius = soft_center_radius
        self.iou_weight = iou_weight

    @torch.no_grad()
    def __call__(self, cls_logits: Tensor, pred_boxes: Tensor, priors: Tensor, gt_boxes: Tensor,
                 gt_labels: Tensor, gt_mask: Tensor) -> Assignment:
        """cls_logits (B, A, C); pred_boxes (B, A, 4) xyxy; priors (A, 3) point x, y and stride;
        gt_boxes (B, M, 4) xyxy; gt_labels (B, M) long in [0, C); gt_mask (B, M) bool (False = padding).
        """
        cls_logits, pred_boxes, gt_boxes = cls_logits.float(), pred_boxes.float(), gt_boxes.float()
        b, a, _ = cls_logits.shape
        m = gt_boxes.shape[1]
        if m == 0 or a == 0:
            background = torch.full((b, a), -1, dtype=torch.long, device=cls_logits.device)
            return Assignment(background, background >= 0, torch.zeros(b, a, device=cls_logits.device))
        points, strides = priors[:, :2].float(), priors[:, 2].float()  # (A, 2), (A,)
        gt_labels = gt_labels.long().clamp(0, cls_logits.shape[-1] - 1)  # padding may hold any label

        inside = box_to_distance(points[None, :, None], gt_boxes[:, None]).amin(-1) > 0  # (B, A, M)
        inside &= gt_mask[:, None, :]
        pair_ok = inside.any(-1, keepdim=True) & gt_mask[:, None, :]  # (B, A, M)

        gt_centres = (gt_boxes[..., :2] + gt_boxes[..., 2:]) / 2  # (B, M, 2)
        distance = (points[None, :, None] - gt_centres[:, None]).norm(dim=-1) / strides[None, :, None]
        centre_cost = torch.pow(10.0, distance - self.soft_center_radius)  # (B, A, M)
        ious = box_iou(pred_boxes, gt_boxes)  # (B, A, M)
        iou_cost = -torch.log(ious + 1e-7) * self.iou_weight
        cost = _soft_class_cost(cls_logits, gt_labels, ious) + iou_cost + centre_cost
        cost = torch.where(pair_ok, cost, _NOT_A_CANDIDATE)  # (B, A, M)

        matching = self._dynamic_k_matching(cost, torch.where(pair_ok, ious, 0.0))  # (B, A, M)
        num_matches = matching.sum(-1)  # (B, A)
        foreground = num_matches > 0
        # A prior claimed by several GTs goes to its cheapest GT overall (as mmdet does).
        gt_index = torch.where(num_matches > 1, cost.argmin(-1), matching.to(torch.uint8).argmax(-1))
        gt_index = torch.where(foreground, gt_index, -1)
        assigned_ious = ious.gather(-1, gt_index.clamp(min=0)[..., None]).squeeze(-1) * foreground
        return Assignment(gt_index, foreground, assigned_ious)

    def _dynamic_k_matching(self, cost: Tensor, candidate_ious: Tensor) -> Tensor:
        """cost, candidate_ious (B, A, M) -> matching (B, A, M) bool: each GT's k cheapest candidates."""
        k = min(self.topk, cost.shape[1])
        dynamic_k = candidate_ious.topk(k, dim=1).values.sum(1).int().clamp(min=1)  # (B, M), <= k
        cheapest_cost, cheapest = cost.topk(k, dim=1, largest=False)  # (B, k, M)
        rank = torch.arange(k, device=cost.device)[None, :, None]
        chosen = (rank < dynamic_k[:, None, :]) & (cheapest_cost < _NOT_A_CANDIDATE)  # (B, k, M)
        matching = torch.zeros(cost.shape, dtype=torch.bool, device=cost.device)
        return matching.scatter_(1, cheapest, chosen)
