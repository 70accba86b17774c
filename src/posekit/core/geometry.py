"""Box and OKS maths, vectorised over people, in numpy (float64 where COCO is matched exactly)."""

from __future__ import annotations

import numpy as np


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., :2] + boxes[..., 2:4]], axis=-1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, dtype=np.float64)
    return np.concatenate([boxes[..., :2], boxes[..., 2:4] - boxes[..., :2]], axis=-1)


def box_area(boxes: np.ndarray) -> np.ndarray:
    """Area of xyxy boxes; zero for degenerate ones."""
    wh = np.clip(boxes[..., 2:4] - boxes[..., :2], 0, None)
    return wh[..., 0] * wh[..., 1]


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes a (N,4) against b (M,4) -> (N,M)."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=-1)  # (N, M)
    union = box_area(a)[:, None] + box_area(b)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def keypoint_boxes(keypoints: np.ndarray, visible: np.ndarray | None = None) -> np.ndarray:
    """Tight xyxy box around each person's keypoints (N,K,2), over `visible` ones if given."""
    kpts = np.asarray(keypoints, dtype=np.float64)
    if visible is None:
        visible = np.ones(kpts.shape[:2], dtype=bool)
    big = np.where(visible[..., None], kpts, np.inf)
    small = np.where(visible[..., None], kpts, -np.inf)
    boxes = np.concatenate([big.min(1), small.max(1)], axis=-1)
    return np.where(np.isfinite(boxes), boxes, 0.0)


def oks(pred: np.ndarray, gt: np.ndarray, gt_visible: np.ndarray, areas: np.ndarray,
        sigmas: np.ndarray) -> np.ndarray:
    """Object keypoint similarity, COCO definition.

    pred (N,K,2), gt (M,K,2), gt_visible (M,K) bool, areas (M,) the GT scale s², sigmas (K,).
    Returns (N,M): mean over each GT's labelled keypoints of exp(-d² / (2 s² (2σ)²)); 0 where a GT
    has no labelled keypoint.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    variances = (2.0 * np.asarray(sigmas, dtype=np.float64)) ** 2  # (K,)
    d2 = ((pred[:, None] - gt[None]) ** 2).sum(-1)  # (N, M, K)
    e = d2 / variances / (np.asarray(areas, dtype=np.float64)[None, :, None] + np.spacing(1)) / 2
    vis = np.asarray(gt_visible, dtype=bool)[None]  # (1, M, K)
    count = vis.sum(-1)  # (1, M)
    total = np.where(vis, np.exp(-e), 0.0).sum(-1)  # (N, M)
    return np.where(count > 0, total / np.maximum(count, 1), 0.0)
