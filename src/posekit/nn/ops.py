"""Box and keypoint operations in torch: IoU, GIoU, point-distance boxes, and exact greedy NMS.

Boxes are xyxy. Pairwise functions broadcast over leading batch dimensions:
`box_iou(a (..., N, 4), b (..., M, 4)) -> (..., N, M)`; the `aligned` forms compare element by
element: `(..., 4), (..., 4) -> (...)`.

The NMS functions are exact greedy NMS (the result torchvision and mmcv give) without a Python
loop over boxes: "box i is kept iff no kept box ranked above it overlaps it" has exactly one
solution, and iterating that rule from "keep everything" reaches it; each iteration is one
(N, N) matrix product, and the number of iterations is the depth of the longest suppression
chain (a handful in practice, at most N).
"""

from __future__ import annotations

import torch
from torch import Tensor

from posekit.core.errors import InputError


def box_area(boxes: Tensor) -> Tensor:
    """Area of xyxy boxes (..., 4) -> (...); zero for degenerate boxes."""
    wh = (boxes[..., 2:] - boxes[..., :2]).clamp(min=0)
    return wh[..., 0] * wh[..., 1]


def _pairs(a: Tensor, b: Tensor, aligned: bool) -> tuple[Tensor, Tensor]:
    """Boxes viewed so that elementwise ops give all (..., N, M) pairs, or aligned pairs."""
    return (a, b) if aligned else (a[..., :, None, :], b[..., None, :, :])


def _intersection_union(a: Tensor, b: Tensor, aligned: bool) -> tuple[Tensor, Tensor]:
    area_a, area_b = box_area(a), box_area(b)
    if not aligned:
        area_a, area_b = area_a[..., :, None], area_b[..., None, :]
    a, b = _pairs(a, b, aligned)
    # Coordinate by coordinate: no (..., N, M, 4) intermediates, which would dominate the time.
    w = (torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp_(min=0)
    h = (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp_(min=0)
    inter = w * h
    return inter, area_a + area_b - inter


def box_iou(a: Tensor, b: Tensor, aligned: bool = False, eps: float = 1e-6) -> Tensor:
    """IoU of xyxy boxes: (..., N, 4) x (..., M, 4) -> (..., N, M), or element-wise if `aligned`."""
    inter, union = _intersection_union(a, b, aligned)
    return inter / union.clamp(min=eps)


def giou(a: Tensor, b: Tensor, aligned: bool = False, eps: float = 1e-6) -> Tensor:
    """Generalised IoU (Rezatofighi et al. 2019) in [-1, 1]: IoU - (hull - union) / hull.

    (..., N, 4) x (..., M, 4) -> (..., N, M), or element-wise (..., 4) x (..., 4) -> (...) if `aligned`.
    """
    inter, union = _intersection_union(a, b, aligned)
    union = union.clamp(min=eps)
    a, b = _pairs(a, b, aligned)
    hull_w = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    hull_h = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    hull = (hull_w.clamp(min=0) * hull_h.clamp(min=0)).clamp(min=eps)
    return inter / union - (hull - union) / hull


def distance_to_box(points: Tensor, distances: Tensor) -> Tensor:
    """Boxes from points (..., 2) and their distances (..., 4) to the left, top, right, bottom edges."""
    return torch.cat([points - distances[..., :2], points + distances[..., 2:]], dim=-1)


def box_to_distance(points: Tensor, boxes: Tensor) -> Tensor:
    """Inverse of `distance_to_box`: (..., 2), (..., 4) -> (left, top, right, bottom) (..., 4)."""
    return torch.cat([points - boxes[..., :2], boxes[..., 2:] - points], dim=-1)


def greedy_suppression(overlaps: Tensor, max_iter: int | None = None) -> Tensor:
    """Exact greedy NMS on a score-sorted suppression matrix.

    overlaps: (N, N) bool, overlaps[j, i] True when box j (ranked higher, j < i) would suppress box i;
    only the strict upper triangle is read. Returns keep (N,) bool such that box i is kept iff no
    kept box j < i has overlaps[j, i].
    """
    n = overlaps.shape[0]
    suppressor = torch.triu(overlaps, diagonal=1).to(torch.float32)  # (N, N), exact for N < 2**24
    keep = torch.ones(n, dtype=torch.bool, device=overlaps.device)
    for _ in range(n if max_iter is None else max_iter):
        new_keep = (keep.to(torch.float32) @ suppressor) == 0  # (N,)
        if torch.equal(new_keep, keep):
            break
        keep = new_keep
    return keep


def _check_pairs(a: Tensor, b: Tensor, what: str) -> None:
    if a.shape[0] != b.shape[0]:
        raise InputError(f"{what}: got {a.shape[0]} items but {b.shape[0]} scores; pass one score per item")


def nms(boxes: Tensor, scores: Tensor, iou_thr: float, max_det: int | None = None) -> Tensor:
    """Greedy NMS: drop a box whose IoU with a higher-scoring kept box is > `iou_thr`.

    boxes (N, 4) xyxy, scores (N,). Returns the kept indices (K,) long, by decreasing score
    (ties keep input order), at most `max_det` of them.
    """
    if boxes.ndim != 2 or boxes.shape[-1] != 4:
        raise InputError(f"nms: boxes must have shape (N, 4), got {tuple(boxes.shape)}")
    _check_pairs(boxes, scores, "nms")
    order = torch.sort(scores, descending=True, stable=True).indices
    sorted_boxes = boxes[order]
    keep = greedy_suppression(box_iou(sorted_boxes, sorted_boxes) > iou_thr)
    kept = order[keep]
    return kept if max_det is None else kept[:max_det]


def batched_nms(boxes: Tensor, scores: Tensor, idxs: Tensor, iou_thr: float,
                max_det: int | None = None) -> Tensor:
    """NMS within each group (class, or image) given by `idxs` (N,) long; groups never suppress
    each other. Boxes of each group are moved apart by an offset larger than every coordinate,
    so one NMS over all of them equals one NMS per group. Returns kept indices by decreasing score.
    """
    _check_pairs(boxes, idxs, "batched_nms")
    if boxes.numel() == 0:
        return torch.zeros(0, dtype=torch.long, device=boxes.device)
    span = boxes.max() - boxes.min() + 1
    offsets = idxs.to(boxes) * span
    return nms(boxes + offsets[:, None], scores, iou_thr, max_det)


def keypoint_oks(keypoints: Tensor, areas: Tensor, sigmas: Tensor,
                 visible: Tensor | None = None) -> Tensor:
    """Pairwise OKS between N poses, as MMPose's `oks_iou` (used by its OKS-NMS).

    keypoints (N, K, 2), areas (N,), sigmas (K,), visible (N, K) bool or None (all keypoints).
    Returns (N, N): mean over keypoints visible in both poses of exp(-d^2 / vars / (mean area) / 2)
    with vars = (2 sigma)^2; 0 where the two poses share no visible keypoint.
    """
    variances = (2.0 * sigmas.to(keypoints)) ** 2  # (K,)
    d2 = ((keypoints[:, None] - keypoints[None]) ** 2).sum(-1)  # (N, N, K)
    mean_area = (areas[:, None] + areas[None]).to(keypoints) / 2  # (N, N)
    e = d2 / variances / (mean_area[..., None] + torch.finfo(torch.float64).eps) / 2
    if visible is None:
        return torch.exp(-e).mean(-1)
    both = visible[:, None] & visible[None]  # (N, N, K)
    count = both.sum(-1)
    return torch.where(count > 0, (torch.exp(-e) * both).sum(-1) / count.clamp(min=1), 0.0)


def oks_nms(keypoints: Tensor, scores: Tensor, areas: Tensor, sigmas: Tensor, thr: float,
            keypoint_scores: Tensor | None = None, vis_thr: float | None = None,
            max_det: int | None = None) -> Tensor:
    """Greedy OKS-NMS (MMPose's `oks_nms`): drop a pose whose OKS with a higher-scoring kept pose
    is > `thr`.

    keypoints (N, K, 2), scores (N,), areas (N,), sigmas (K,); with `vis_thr`, only keypoints whose
    `keypoint_scores` (N, K) exceed it in both poses count. Returns kept indices by decreasing score.
    """
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise InputError(f"oks_nms: keypoints must have shape (N, K, 2), got {tuple(keypoints.shape)}")
    _check_pairs(keypoints, scores, "oks_nms")
    visible = None
    if vis_thr is not None:
        if keypoint_scores is None:
            raise InputError("oks_nms: vis_thr needs keypoint_scores (N, K); pass them or drop vis_thr")
        visible = keypoint_scores > vis_thr
    order = torch.sort(scores, descending=True, stable=True).indices
    similarity = keypoint_oks(keypoints[order], areas[order], sigmas,
                              None if visible is None else visible[order])
    kept = order[greedy_suppression(similarity > thr)]
    return kept if max_det is None else kept[:max_det]
