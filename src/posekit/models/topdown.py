"""What every top-down pose model shares: input normalisation, flip test, and the way back from
crop coordinates to image pixels. Families (RTMPose/SimCC, heatmaps) add backbone, head and codec.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from posekit.core.poses import Poses
from posekit.core.skeleton import Skeleton

IMAGENET_MEAN_RGB = (123.675, 116.28, 103.53)
IMAGENET_STD_RGB = (58.395, 57.12, 57.375)


class TopDownModel(nn.Module):
    """Base class. Subclasses set `backbone`/`head` and implement `forward`, `loss`,
    `decode_crops` and `flip_back`.

    input_size: (H, W) of the crops.
    """

    paradigm = "top-down"

    def __init__(self, input_size: tuple[int, int], skeleton: Skeleton):
        super().__init__()
        self.input_size = tuple(input_size)
        self.skeleton = skeleton
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN_RGB).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD_RGB).view(1, 3, 1, 1), persistent=False)

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """images (B,3,H,W) RGB 0-255 -> zero-mean unit-variance RGB."""
        return (images - self.mean) / self.std

    def decode_crops(self, outputs) -> tuple[torch.Tensor, torch.Tensor]:
        """outputs -> keypoints (B,K,2) in crop-input pixels, keypoint scores (B,K)."""
        raise NotImplementedError

    def flip_back(self, flipped_outputs):
        """Outputs of the horizontally flipped crops, mapped back to the unflipped layout."""
        raise NotImplementedError

    def merge_flip(self, outputs, flipped_outputs):
        """Flip test: average the outputs with those of the flipped crops (as MMPose does)."""
        back = self.flip_back(flipped_outputs)
        if isinstance(outputs, (tuple, list)):
            return type(outputs)(0.5 * (a + b) for a, b in zip(outputs, back))
        return 0.5 * (outputs + back)

    def for_inference(self) -> nn.Module:
        return self.eval()

    def decode(self, outputs, metas: dict) -> list[Poses]:
        """Back to image pixels, one `Poses` per image.

        metas: center (B,2), scale (B,2) of each crop box in image pixels; image_index (B,);
        optional boxes (B,4) xyxy and box_scores (B,); num_images (int, default max index + 1).
        The instance score is box score x mean of keypoint scores above 0.2 (MMPose's
        'bbox_keypoint' score mode).
        """
        keypoints, scores = (t.detach().float().cpu().numpy() for t in self.decode_crops(outputs))
        center = np.asarray(metas["center"], dtype=np.float32)
        scale = np.asarray(metas["scale"], dtype=np.float32)
        size_wh = np.array(self.input_size[::-1], dtype=np.float32)
        keypoints = keypoints / size_wh * scale[:, None] + center[:, None] - 0.5 * scale[:, None]
        n = len(keypoints)
        boxes = np.asarray(metas.get("boxes", np.concatenate([center - scale / 2, center + scale / 2], 1)),
                           dtype=np.float32).reshape(n, 4)
        box_scores = np.asarray(metas.get("box_scores", np.ones(n)), dtype=np.float32).reshape(n)
        confident = scores > 0.2
        mean_conf = np.where(confident.any(1), (scores * confident).sum(1) / np.maximum(confident.sum(1), 1), 0.0)
        instance_scores = box_scores * mean_conf
        image_index = np.asarray(metas.get("image_index", np.zeros(n)), dtype=np.int64).reshape(n)
        num_images = int(metas.get("num_images", image_index.max() + 1 if n else 1))
        order = np.argsort(image_index, kind="stable")
        splits = np.searchsorted(image_index[order], np.arange(1, num_images))
        return [Poses(keypoints[idx], scores[idx], boxes[idx], instance_scores[idx], self.skeleton)
                for idx in np.split(order, splits)]
