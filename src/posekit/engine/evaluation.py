"""Evaluate a model on a COCO-format directory with `posekit.eval`."""

from __future__ import annotations

import numpy as np
import torch

from posekit.core.geometry import xywh_to_xyxy
from posekit.data.datasets import CocoDirectory
from posekit.engine.pipeline import TopDownPipeline, lent


def usable_gt_boxes(coco) -> np.ndarray:
    """(A,) which annotations GT-box mode predicts for: not crowd, some labelled keypoint, a box with area."""
    return ~coco.iscrowd & (coco.num_keypoints > 0) & (coco.bboxes[:, 2] > 0) & (coco.bboxes[:, 3] > 0)


def predict_topdown(pipeline: TopDownPipeline, data: CocoDirectory, use_gt_boxes: bool) -> list[dict]:
    """COCO results for every image: with the ground-truth boxes (MMPose's GT-box mode skips crowd
    regions, people without labelled keypoints and empty boxes) or with the pipeline's detector."""
    coco = data.coco
    usable = usable_gt_boxes(coco)
    boxes_xyxy = xywh_to_xyxy(coco.bboxes)
    results = []
    for i, image_info in enumerate(coco.images):
        image_id = int(image_info["id"])
        boxes = None
        if use_gt_boxes:
            rows = coco.annotation_rows(image_id)
            boxes = boxes_xyxy[rows[usable[rows]]]
        poses = pipeline(data.read(i), boxes=boxes)
        results.extend(poses.to_coco(image_id))
    return results


def evaluate_topdown(model, data: CocoDirectory, device="cpu", detector=None, flip_test: bool = False,
                     dataset: str = "coco"):
    """AP of a top-down model: with ground-truth boxes, or with `detector`'s boxes when given."""
    from posekit.eval import evaluate

    with lent(model):
        pipeline = TopDownPipeline(model, detector, device=device, flip_test=flip_test)
        results = predict_topdown(pipeline, data, use_gt_boxes=detector is None)
    return evaluate(str(data.ann_file), results, dataset=dataset)


@torch.no_grad()
def evaluate_onestage(model, data: CocoDirectory, device="cpu", batch_size: int = 8, dataset: str = "coco"):
    """AP of a one-stage or end-to-end model on whole images."""
    from posekit.engine.pipeline import OneStagePipeline
    from posekit.eval import evaluate

    coco = data.coco
    results = []
    with lent(model):
        pipe = OneStagePipeline(model, device=device, **model.evaluation_options)
        for start in range(0, len(coco.images), batch_size):
            indices = range(start, min(start + batch_size, len(coco.images)))
            for i, poses in zip(indices, pipe.predict_many([data.read(i) for i in indices])):
                results.extend(poses.to_coco(int(coco.images[i]["id"])))
    return evaluate(str(data.ann_file), results, dataset=dataset)


@torch.no_grad()
def evaluate_detector(model, data: CocoDirectory, device="cpu", batch_size: int = 16) -> dict:
    """Person-box AP and AP50 of a detector against the non-crowd ground-truth boxes."""
    from posekit.eval.boxes import box_ap

    was_training = model.training
    model.eval()
    coco = data.coco
    gt_xyxy = xywh_to_xyxy(coco.bboxes)
    keep = ~coco.iscrowd & (coco.bboxes[:, 2] > 0) & (coco.bboxes[:, 3] > 0)
    gts, dets, scores = [], [], []
    for start in range(0, len(coco.images), batch_size):
        indices = range(start, min(start + batch_size, len(coco.images)))
        batch, metas = model.preprocess([data.read(i) for i in indices])
        for i, found in zip(indices, model.decode(model(batch.to(device)), metas)):
            rows = coco.annotation_rows(int(coco.images[i]["id"]))
            gts.append(gt_xyxy[rows[keep[rows]]])
            dets.append(found["boxes"])
            scores.append(found["scores"])
    model.train(was_training)
    return box_ap(gts, dets, scores)


@torch.no_grad()
def evaluate_tae(model, data: CocoDirectory, device="cpu", batch_size: int = 8, score_thr: float | None = None,
                 **select_options) -> dict:
    """Task Alignment Error (`posekit.eval.tae`) of a dense one-stage model on whole images.

    The model gives every cell's keypoints (`dense_keypoints`) and the cells it keeps at inference
    (`select`, at its own score threshold unless `score_thr` is given). Candidates go back to image
    pixels; OKS uses the annotation areas, as COCO evaluation does. Crowd regions are left out.
    Returns {"TAE", "people", "mean_optimal_oks", "mean_selected_oks"}.
    """
    from posekit.core.errors import ConfigError
    from posekit.data.transforms import apply_affine, invert_affine
    from posekit.eval.tae import image_alignment, task_alignment_error

    if not (hasattr(model, "dense_keypoints") and hasattr(model, "select")):
        raise ConfigError(f"TAE needs a dense one-stage model with dense_keypoints() and select(); "
                          f"{type(model).__name__} has no such outputs")
    was_training = model.training
    model.eval()
    coco = data.coco
    sigmas = np.asarray(model.skeleton.sigmas, dtype=np.float64)
    alignments = []
    for start in range(0, len(coco.images), batch_size):
        indices = range(start, min(start + batch_size, len(coco.images)))
        batch, metas = model.preprocess([data.read(i) for i in indices])
        outputs = model(batch.to(device))
        dense = model.dense_keypoints(outputs).cpu().numpy()  # (B, A, K, 2) input pixels
        to_image = invert_affine(metas["matrix"])
        for j, (i, kept) in enumerate(zip(indices, model.select(outputs, score_thr, **select_options))):
            candidates = apply_affine(dense[j], to_image[j])
            rows = coco.annotation_rows(int(coco.images[i]["id"]))
            rows = rows[~coco.iscrowd[rows]]
            gt = coco.keypoints[rows]
            alignments.append(image_alignment(candidates, kept.cpu().numpy(), gt[..., :2], gt[..., 2],
                                              coco.areas[rows], sigmas))
    model.train(was_training)
    optimal = np.concatenate([a.optimal_oks[a.labelled] for a in alignments] or [np.zeros(0)])
    selected = np.concatenate([a.selected_oks[a.labelled] for a in alignments] or [np.zeros(0)])
    return {"TAE": task_alignment_error(alignments), "people": int(len(optimal)),
            "mean_optimal_oks": float(optimal.mean()) if len(optimal) else 0.0,
            "mean_selected_oks": float(selected.mean()) if len(selected) else 0.0}
