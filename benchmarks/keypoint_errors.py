"""Where a top-down model's AP is lost: per-keypoint OKS terms with ground-truth boxes.

    python benchmarks/keypoint_errors.py --model rtmpose-t --weights runs/bench_topdown_v2/rtmpose-t/last.pt \\
        [--data runs/synth/val] [--results keypoint_errors]

For every labelled keypoint, the term OKS averages, exp(-d^2 / (2 s^2 k^2)) with s^2 the GT area and k
twice the COCO sigma, split by visibility (v=2 visible, v=1 occluded but labelled); the mean OKS per
person by size (sqrt(area) in px) and by the share of its labelled keypoints that are occluded; the
share of people whose OKS rises by more than 0.05 when the prediction's left and right are swapped
(left/right confusions); and AP with the model's instance scores against AP with each prediction's
own OKS as its score (what a perfect ranking of the same poses would give).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]
SIZE_BINS = ((0, 32), (32, 64), (64, 96), (96, float("inf")))
OCCLUDED_BINS = ((0, 0.1), (0.1, 0.3), (0.3, 0.6), (0.6, 1.01))


def oks_terms(pred: np.ndarray, gt: np.ndarray, areas: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """(N, K) OKS term of each keypoint: pred, gt (N, K, 2), areas (N,), sigmas (K,)."""
    d2 = ((pred - gt) ** 2).sum(-1)
    return np.exp(-d2 / (2 * (2 * sigmas) ** 2 * (areas[:, None] + np.spacing(1))))


def analyse(model, data) -> dict:
    from posekit.engine.evaluation import predict_topdown, usable_gt_boxes
    from posekit.engine.pipeline import TopDownPipeline
    from posekit.eval import evaluate
    from posekit.eval.cocoeval import pair_oks_values

    coco = data.coco
    # predict_topdown keeps one result per usable GT box, in annotation order
    usable = usable_gt_boxes(coco)
    rows = np.concatenate([r[usable[r]] for r in (coco.annotation_rows(int(im["id"])) for im in coco.images)])
    results = predict_topdown(TopDownPipeline(model, None), data, use_gt_boxes=True)
    pred = np.array([r["keypoints"] for r in results], dtype=np.float64).reshape(len(rows), -1, 3)
    gt, areas, boxes = coco.keypoints[rows], coco.areas[rows], coco.bboxes[rows]
    sigmas = model.skeleton.sigmas_array
    terms = oks_terms(pred[..., :2], gt[..., :2], areas, sigmas)
    pairs = np.arange(len(rows))
    oks = pair_oks_values(pred, gt, boxes, areas, sigmas, pairs, pairs)
    swapped = pair_oks_values(pred[:, model.skeleton.flip_indices], gt, boxes, areas, sigmas, pairs, pairs)
    vis = gt[..., 2]
    labelled = vis > 0
    size = np.sqrt(areas)
    occluded = (vis == 1).sum(1) / np.maximum(labelled.sum(1), 1)
    ranked_by_oks = [r | {"score": float(o)} for r, o in zip(results, oks)]
    return {
        "people": int(len(rows)),
        "share_occluded": float((vis == 1).sum() / labelled.sum()),
        "mean_term": {f"v={v}": float(terms[vis == v].mean()) for v in (1, 2)},
        "keypoints": {name: {"all": float(terms[labelled[:, k], k].mean()),
                             **{f"v={v}": float(terms[vis[:, k] == v, k].mean()) for v in (1, 2)}}
                      for k, name in enumerate(model.skeleton.keypoints)},
        "mean_oks_by_sqrt_area": {f"{lo}-{hi}": float(oks[(size >= lo) & (size < hi)].mean())
                                  for lo, hi in SIZE_BINS},
        "mean_oks_by_occluded_share": {f"{lo}-{min(hi, 1)}": {"people": int(m.sum()), "mean_oks": float(oks[m].mean())}
                                       for lo, hi in OCCLUDED_BINS if (m := (occluded >= lo) & (occluded < hi)).any()},
        "share_left_right_swapped": float((swapped > oks + 0.05).mean()),
        "AP": evaluate(str(data.ann_file), results).stats["AP"],
        "AP_ranked_by_true_oks": evaluate(str(data.ann_file), ranked_by_oks).stats["AP"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="rtmpose-t")
    parser.add_argument("--weights", required=True)
    parser.add_argument("--data", default="runs/synth/val")
    parser.add_argument("--results", default="keypoint_errors", help="report file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    from posekit.data.datasets import CocoDirectory
    from posekit.engine.pipeline import build_model

    info = header(f"per-keypoint OKS terms of {args.model} with GT boxes")
    with torch.no_grad():
        result = analyse(build_model(args.model, args.weights), CocoDirectory(args.data))
    result = {"machine": info, "weights": args.weights, "data": args.data, **result}
    print(json.dumps(result, indent=1))
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / f"benchmarks/results/{args.results}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
