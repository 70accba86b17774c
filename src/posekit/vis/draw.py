"""Drawing poses onto images: predictions (`Poses`) and ground truth (COCO keypoint arrays).

Both functions take an RGB uint8 image and return a new one; the input is never modified.
Colours come from the skeleton (left green, right orange, centre blue); line width and keypoint
radius follow each person's size unless given.
"""

from __future__ import annotations

import cv2
import numpy as np

from posekit.core.errors import InputError
from posekit.core.poses import Poses
from posekit.core.skeleton import Skeleton, get_skeleton
from posekit.data.images import as_rgb_image

BOX_COLOUR = (255, 255, 0)
_SHIFT = 4
_ONE = 1 << _SHIFT


def person_sizes(keypoints: np.ndarray, labelled: np.ndarray, boxes: np.ndarray | None = None) -> np.ndarray:
    """Diagonal (N,) of each person's box (xyxy), or of its labelled keypoints where the box is empty."""
    kpts = np.asarray(keypoints, dtype=np.float64)
    lo = np.where(labelled[..., None], kpts, np.inf).min(1)
    hi = np.where(labelled[..., None], kpts, -np.inf).max(1)
    diag = np.where(labelled.any(1), np.hypot(*(hi - lo).T), 0.0)
    if boxes is not None:
        box_diag = np.hypot(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1])
        diag = np.where(box_diag > 0, box_diag, diag)
    return diag


def _line_sizes(diag: np.ndarray, radius, thickness) -> tuple[np.ndarray, np.ndarray]:
    """Per-person keypoint radius (px, float) and line thickness (px, int)."""
    r = np.clip(diag / 60, 1.5, 8) if radius is None else np.full(len(diag), float(radius))
    t = np.clip(np.rint(diag / 120), 1, 6).astype(int) if thickness is None else np.full(len(diag), int(thickness))
    return r, t


def _pt(xy) -> tuple[int, int]:
    return tuple(int(v) for v in np.round(np.asarray(xy, dtype=np.float64) * _ONE))


def _draw_people(image: np.ndarray, keypoints: np.ndarray, shown: np.ndarray, hollow: np.ndarray,
                 skeleton: Skeleton, radius: np.ndarray, thickness: np.ndarray) -> None:
    """Links between shown keypoints, then keypoints (hollow rings where `hollow`), in place."""
    links = np.asarray(skeleton.links, dtype=np.int64).reshape(-1, 2)
    link_colours, kpt_colours = skeleton.link_colours, skeleton.keypoint_colours
    for i in range(len(keypoints)):
        both = shown[i, links[:, 0]] & shown[i, links[:, 1]] if len(links) else np.zeros(0, bool)
        for j in np.flatnonzero(both):
            a, b = links[j]
            pa, pb = keypoints[i, a].astype(np.float64), keypoints[i, b].astype(np.float64)
            # a link stops at the ring of an occluded keypoint so that the ring stays hollow
            step = (pb - pa) * radius[i] / max(float(np.hypot(*(pb - pa))), 1e-9)
            pa, pb = pa + step * hollow[i, a], pb - step * hollow[i, b]
            width = max(1, int(thickness[i]) // (2 if hollow[i, a] or hollow[i, b] else 1))
            cv2.line(image, _pt(pa), _pt(pb), link_colours[j], width, cv2.LINE_AA, _SHIFT)
        r = int(round(radius[i] * _ONE))
        for k in np.flatnonzero(shown[i]):
            centre = _pt(keypoints[i, k])
            if hollow[i, k]:
                cv2.circle(image, centre, r, kpt_colours[k], max(1, int(thickness[i]) // 2 + 1), cv2.LINE_AA, _SHIFT)
            else:
                cv2.circle(image, centre, r, kpt_colours[k], -1, cv2.LINE_AA, _SHIFT)
                cv2.circle(image, centre, r, (255, 255, 255), 1, cv2.LINE_AA, _SHIFT)


def _draw_boxes(image: np.ndarray, boxes: np.ndarray, thickness: np.ndarray, scores: np.ndarray | None = None) -> None:
    for i, box in enumerate(boxes):
        cv2.rectangle(image, _pt(box[:2]), _pt(box[2:]), BOX_COLOUR, int(thickness[i]), cv2.LINE_AA, _SHIFT)
        if scores is not None:
            x, y = int(box[0]), max(int(box[1]) - 4, 10)
            cv2.putText(image, f"{scores[i]:.2f}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, BOX_COLOUR, 1, cv2.LINE_AA)


def draw_poses(image_rgb: np.ndarray, poses: Poses, kpt_thr: float = 0.3, draw_boxes: bool = True,
               radius: float | None = None, thickness: int | None = None) -> np.ndarray:
    """Draw predicted poses on a copy of an RGB uint8 image (H,W,3).

    Keypoints with score below `kpt_thr` are not drawn, nor links touching them. Radius and line
    thickness scale with each person's box diagonal unless given. Boxes (xyxy) carry their score.
    """
    image = as_rgb_image(image_rgb).copy()
    if not isinstance(poses, Poses):
        raise InputError(f"draw_poses needs a posekit.core.Poses, got {type(poses).__name__}: "
                         f"wrap arrays with Poses(keypoints, keypoint_scores, boxes, scores)")
    if len(poses) == 0:
        return image
    shown = poses.keypoint_scores >= kpt_thr  # (N,K)
    r, t = _line_sizes(person_sizes(poses.keypoints, shown, poses.boxes), radius, thickness)
    if draw_boxes:
        _draw_boxes(image, poses.boxes, t, poses.scores)
    _draw_people(image, poses.keypoints, shown, np.zeros_like(shown), poses.skeleton, r, t)
    return image


def draw_annotations(image_rgb: np.ndarray, keypoints: np.ndarray, skeleton: Skeleton | str = "coco",
                     bboxes: np.ndarray | None = None, radius: float | None = None,
                     thickness: int | None = None) -> np.ndarray:
    """Draw ground-truth keypoints (N,K,3) = x, y, v on a copy of an RGB uint8 image.

    v=2 (visible) keypoints are filled discs, v=1 (labelled but occluded) hollow rings joined by
    thinner links, v=0 not drawn. `bboxes` (N,4) xywh, if given, are drawn as boxes.
    """
    image = as_rgb_image(image_rgb).copy()
    skeleton = get_skeleton(skeleton)
    kpts = np.asarray(keypoints, dtype=np.float64)
    if kpts.ndim != 3 or kpts.shape[1:] != (skeleton.num_keypoints, 3):
        raise InputError(f"keypoints have shape {kpts.shape}, expected (N, {skeleton.num_keypoints}, 3) "
                         f"for the '{skeleton.name}' skeleton: pass x, y, v per keypoint")
    if len(kpts) == 0:
        return image
    shown, hollow = kpts[..., 2] > 0, kpts[..., 2] == 1
    boxes = None if bboxes is None else np.concatenate([bboxes[:, :2], bboxes[:, :2] + bboxes[:, 2:]], 1)
    r, t = _line_sizes(person_sizes(kpts[..., :2], shown, boxes), radius, thickness)
    if boxes is not None:
        _draw_boxes(image, boxes, t)
    _draw_people(image, kpts[..., :2], shown, hollow, skeleton, r, t)
    return image
