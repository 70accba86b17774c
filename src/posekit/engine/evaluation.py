"""Evaluate a model on a COCO-format directory with `posekit.eval`."""

from __future__ import annotations

import torch

from posekit.core.geometry import xywh_to_xyxy
from posekit.data.datasets import CocoDirectory
from posekit.engine.pipeline import TopDownPipeline


def predict_topdown(pipeline: TopDownPipeline, data: CocoDirectory, use_gt_boxes: bool) -> list[dict]:
    """COCO results for every image: with the ground-truth boxes (MMPose's GT-box mode skips crowd
    regions, people without labelled keypoints and empty boxes) or with the pipeline's detector."""
    coco = data.coco
    usable = ~coco.iscrowd & (coco.num_keypoints > 0) & (coco.bboxes[:, 2] > 0) & (coco.bboxes[:, 3] > 0)
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

    was_training = model.training
    pipeline = TopDownPipeline(model, detector, device=device, flip_test=flip_test)
    results = predict_topdown(pipeline, data, use_gt_boxes=detector is None)
    model.train(was_training)
    return evaluate(str(data.ann_file), results, dataset=dataset)


@torch.no_grad()
def evaluate_onestage(model, data: CocoDirectory, device="cpu", batch_size: int = 8, dataset: str = "coco"):
    """AP of a one-stage or end-to-end model on whole images."""
    from posekit.engine.pipeline import OneStagePipeline
    from posekit.eval import evaluate

    was_training = model.training
    pipe = OneStagePipeline(model, device=device, **model.evaluation_options)
    coco = data.coco
    results = []
    for start in range(0, len(coco.images), batch_size):
        indices = range(start, min(start + batch_size, len(coco.images)))
        for i, poses in zip(indices, pipe.predict_many([data.read(i) for i in indices])):
            results.extend(poses.to_coco(int(coco.images[i]["id"])))
    model.train(was_training)
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
