"""`Poses`: what every posekit model returns for one image."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posekit.core.skeleton import SKELETONS, Skeleton


@dataclass
class Poses:
    """People found in one image, in original-image pixel coordinates.

    keypoints (N,K,2) float32 (x, y); keypoint_scores (N,K); boxes (N,4) xyxy; scores (N,).
    N = 0 is a valid, empty result.
    """

    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray
    skeleton: Skeleton = field(default_factory=lambda: SKELETONS["coco"])

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32).reshape(-1, self.skeleton.num_keypoints, 2)
        n, k = self.keypoints.shape[:2]
        self.keypoint_scores = np.asarray(self.keypoint_scores, dtype=np.float32).reshape(n, k)
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(n, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(n)

    @classmethod
    def empty(cls, skeleton: Skeleton | None = None) -> "Poses":
        skeleton = skeleton or SKELETONS["coco"]
        k = skeleton.num_keypoints
        return cls(np.zeros((0, k, 2)), np.zeros((0, k)), np.zeros((0, 4)), np.zeros(0), skeleton)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> "Poses":
        """Select people by index, slice or boolean mask."""
        index = np.atleast_1d(np.arange(len(self))[index])
        return Poses(self.keypoints[index], self.keypoint_scores[index], self.boxes[index],
                     self.scores[index], self.skeleton)

    def to_coco(self, image_id: int, category_id: int = 1) -> list[dict]:
        """COCO results entries: keypoints as a flat [x, y, score] * K list, bbox as xywh."""
        kpts = np.concatenate([self.keypoints, self.keypoint_scores[..., None]], axis=-1)
        xywh = np.concatenate([self.boxes[:, :2], self.boxes[:, 2:] - self.boxes[:, :2]], axis=-1)
        flat = np.round(kpts.reshape(len(self), 3 * self.skeleton.num_keypoints).astype(np.float64), 3).tolist()
        boxes = np.round(xywh.astype(np.float64), 3).tolist()
        return [{"image_id": int(image_id), "category_id": int(category_id), "keypoints": kp,
                 "score": float(s), "bbox": b} for kp, s, b in zip(flat, self.scores.tolist(), boxes)]
