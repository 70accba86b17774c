"""Person-box AP for detector validation: COCO-style AP@[.5:.95] and AP50, 101-point interpolation.

No crowd or area ranges: this is the detector's training-time signal, not a COCO re-implementation
(keypoint evaluation in `posekit.eval.cocoeval` is the exact one). Greedy matching runs over
detection ranks, vectorised across images and IoU thresholds.
"""

from __future__ import annotations

import numpy as np

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)


def _pad(arrays: list[np.ndarray], width: int, fill: float) -> np.ndarray:
    n = max([len(a) for a in arrays] + [1])
    out = np.full((len(arrays), n, width), fill, dtype=np.float64)
    for i, a in enumerate(arrays):
        out[i, :len(a)] = np.asarray(a, dtype=np.float64).reshape(-1, width)
    return out


def box_ap(gt_boxes: list[np.ndarray], det_boxes: list[np.ndarray], det_scores: list[np.ndarray],
           max_dets: int = 100) -> dict[str, float]:
    """gt_boxes[i] (G_i,4), det_boxes[i] (D_i,4) xyxy, det_scores[i] (D_i,) per image."""
    order = [np.argsort(-np.asarray(s), kind="stable")[:max_dets] for s in det_scores]
    dets = _pad([np.asarray(b).reshape(-1, 4)[o] for b, o in zip(det_boxes, order)], 4, np.nan)
    scores = _pad([np.asarray(s)[o][:, None] for s, o in zip(det_scores, order)], 1, -np.inf)[..., 0]
    gts = _pad([np.asarray(g).reshape(-1, 4) for g in gt_boxes], 4, np.nan)
    num_gt = sum(len(g) for g in gt_boxes)
    if num_gt == 0:
        return {"AP": -1.0, "AP50": -1.0}
    lt = np.maximum(dets[:, :, None, :2], gts[:, None, :, :2])
    rb = np.minimum(dets[:, :, None, 2:], gts[:, None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), -1)
    area = lambda b: np.prod(np.clip(b[..., 2:] - b[..., :2], 0, None), -1)  # noqa: E731
    union = area(dets)[:, :, None] + area(gts)[:, None, :] - inter
    iou = np.nan_to_num(np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0))  # (I, D, G)
    images, num_d, num_g = iou.shape
    taken = np.zeros((len(IOU_THRESHOLDS), images, num_g), dtype=bool)
    matched = np.zeros((len(IOU_THRESHOLDS), images, num_d), dtype=bool)
    for d in range(num_d):
        cand = np.where(taken, -1.0, iou[None, :, d, :])  # (T, I, G)
        best = cand.argmax(-1)
        best_iou = np.take_along_axis(cand, best[..., None], -1)[..., 0]
        hit = best_iou >= IOU_THRESHOLDS[:, None]
        matched[:, :, d] = hit
        np.put_along_axis(taken, best[..., None], np.take_along_axis(taken, best[..., None], -1) | hit[..., None], -1)
    valid = np.isfinite(scores).reshape(-1)
    flat_scores = scores.reshape(-1)[valid]
    rank = np.argsort(-flat_scores, kind="mergesort")
    tp = matched.reshape(len(IOU_THRESHOLDS), -1)[:, valid][:, rank]
    tp_sum = np.cumsum(tp, 1)
    fp_sum = np.cumsum(~tp, 1)
    recall = tp_sum / num_gt
    precision = tp_sum / np.maximum(tp_sum + fp_sum, 1e-12)
    precision = np.flip(np.maximum.accumulate(np.flip(precision, 1), 1), 1)  # monotone envelope
    points = np.linspace(0, 1, 101)
    ap = np.zeros(len(IOU_THRESHOLDS))
    for t in range(len(IOU_THRESHOLDS)):
        idx = np.searchsorted(recall[t], points, side="left")
        ok = idx < len(recall[t])
        ap[t] = np.where(ok, precision[t][np.minimum(idx, max(len(recall[t]) - 1, 0))] if len(recall[t]) else 0, 0).mean()
    return {"AP": float(ap.mean()), "AP50": float(ap[0])}
