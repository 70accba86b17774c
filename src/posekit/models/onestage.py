"""What every one-stage pose family shares (YOLOX-Pose, RTMO, YOLO-pose, ER-Pose): the letterbox
into the square-ish input and its exact way back, grid points of the dense heads, level flattening,
per-image capping of detections and reading the padded whole-image targets.

    model = create_model("yoloxpose-s")
    batch, metas = model.preprocess([image_rgb])     # letterbox (centred, pad 114), RGB 0-255
    poses = model.decode(model(batch), metas)        # list[Poses] in original-image pixels

metas = {"matrix": (B, 2, 3) image -> input affine, "image_size": (B, 2) as (h, w)}. A family's
`decode` finds keypoints and boxes in input pixels and hands them, per image, to
`to_image_poses(..., metas["matrix"][i])`, which maps them back through `invert_affine` exactly.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn

from posekit.core.errors import ConfigError, InputError
from posekit.core.poses import Poses
from posekit.core.skeleton import Skeleton
from posekit.data.transforms import apply_affine, invert_affine, letterbox

PAD_VALUE = 114
TARGET_KEYS = ("boxes", "keypoints", "visible", "areas", "mask")


class OneStageModel(nn.Module):
    """Base class of the one-stage families. Subclasses build backbone, neck and head and implement
    `forward(images (B,3,H,W) RGB 0-255) -> tensors`, `loss(outputs, targets)` and
    `decode(outputs, metas) -> list[Poses]`.

    input_size: (H, W) of the network input; skeleton: the keypoint set the head predicts.
    """

    paradigm = "one-stage"
    evaluation_options: dict = {}  # decode options for AP evaluation (e.g. a lower score threshold)

    def __init__(self, input_size: tuple[int, int] | int, skeleton: Skeleton, pad_value: int = PAD_VALUE):
        super().__init__()
        self.input_size = (int(input_size),) * 2 if np.isscalar(input_size) else tuple(int(s) for s in input_size)
        self.skeleton = skeleton
        self.pad_value = pad_value

    def require_input_multiple(self, multiple: int, family: str, why: str = "") -> None:
        """Refuse an input_size that the family's strides cannot tile."""
        if any(s % multiple for s in self.input_size):
            raise ConfigError(f"{family} input_size {self.input_size} must be a multiple of {multiple} in both sides"
                              f"{f' ({why})' if why else ''}: pick e.g. 640")

    @property
    def num_keypoints(self) -> int:
        return self.skeleton.num_keypoints

    def for_inference(self) -> nn.Module:
        """The module as deployed; families with switch-time fusions or training-only parts override."""
        return self.eval()

    def preprocess(self, images: list[np.ndarray]) -> tuple[Tensor, dict]:
        """RGB uint8 images (h, w, 3) -> (batch (B, 3, H, W) float32 RGB 0-255, metas).

        Each image is resized to fit the input keeping its aspect and padded evenly with 114
        (Ultralytics LetterBox / MMPose BottomupResize). metas: "matrix" (B, 2, 3) image -> input
        pixels, "image_size" (B, 2) as (h, w).
        """
        if isinstance(images, np.ndarray) and images.ndim == 3:
            images = [images]
        if len(images) == 0:
            raise InputError("preprocess got no images: pass a list of RGB uint8 arrays (h, w, 3)")
        boxed, matrices = [], []
        for image in images:
            image = np.asarray(image)
            if image.ndim != 3 or image.shape[2] != 3:
                raise InputError(f"image has shape {image.shape}: pass RGB arrays of shape (h, w, 3)")
            canvas, matrix = letterbox(image, self.input_size[::-1], self.pad_value)
            boxed.append(canvas)
            matrices.append(matrix)
        batch = torch.from_numpy(np.stack(boxed)).permute(0, 3, 1, 2).float()
        metas = {"matrix": np.stack(matrices), "image_size": np.array([im.shape[:2] for im in images])}
        return batch, metas

    @staticmethod
    def image_metas(metas: dict | None, num_images: int) -> tuple[np.ndarray, list]:
        """preprocess's metas for `decode`: matrices (B, 2, 3) image -> input, and per image its (h, w)
        or None. Without metas the outputs are taken to be in image pixels already (identity, no size)."""
        metas = metas or {}
        matrices = metas.get("matrix", np.tile(np.eye(2, 3), (num_images, 1, 1)))
        sizes = metas.get("image_size", [None] * num_images)
        if len(matrices) != num_images or len(sizes) != num_images:
            raise InputError(f"decode got outputs for {num_images} images but metas for {len(matrices)}: pass the "
                             f"metas that preprocess returned with this batch")
        return matrices, [None if size is None else tuple(int(v) for v in size) for size in sizes]

    def to_image_poses(self, keypoints, keypoint_scores, boxes, scores, matrix,
                       image_size: tuple[int, int] | None = None) -> Poses:
        """One image's detections from input pixels back to image pixels.

        keypoints (N, K, 2), keypoint_scores (N, K), boxes (N, 4) xyxy, scores (N,): input pixels,
        numpy or torch; matrix (2, 3) image -> input (metas["matrix"][i]). Keypoints go back through
        invert_affine(matrix) exactly; a box goes back as the box around its four mapped corners,
        clipped to the image when image_size (h, w) is given.
        """
        keypoints, keypoint_scores, boxes, scores = (
            t.detach().float().cpu().numpy() if isinstance(t, Tensor) else np.asarray(t, dtype=np.float32)
            for t in (keypoints, keypoint_scores, boxes, scores))
        back = invert_affine(np.asarray(matrix, dtype=np.float64).reshape(2, 3))
        n = len(scores)
        keypoints = apply_affine(keypoints.reshape(n, self.num_keypoints, 2), back)
        corners = boxes.reshape(n, 4)[:, [[0, 1], [2, 1], [0, 3], [2, 3]]]  # (N, 4, 2)
        corners = apply_affine(corners, back)
        boxes = np.concatenate([corners.min(1), corners.max(1)], axis=-1)  # (N, 4)
        if image_size is not None:
            h, w = image_size
            boxes = boxes.clip(0, None).clip(None, np.array([w, h, w, h], dtype=np.float64))
        return Poses(keypoints, keypoint_scores, boxes, scores, self.skeleton)


# --------------------------------------------------------------------------- dense-head helpers

def level_sizes(input_size: tuple[int, int], strides) -> list[tuple[int, int]]:
    """Feature map (h, w) of each level for an input (H, W): stride-2 convs give ceil(H / s)."""
    return [(math.ceil(input_size[0] / s), math.ceil(input_size[1] / s)) for s in strides]


def points_for_outputs(num_points: int, input_size: tuple[int, int], strides, offset: float = 0.0,
                       device=None) -> tuple[Tensor, list[int]]:
    """Grid points (A, 3) and points per level for dense outputs with A points: those of the
    model's `input_size`, or of the square input that has A points (multi-scale training)."""
    sizes = level_sizes(input_size, strides)
    if sum(h * w for h, w in sizes) != num_points:
        side = round(math.sqrt(num_points / sum(1 / s ** 2 for s in strides)))
        sizes = level_sizes((side, side), strides)
        if sum(h * w for h, w in sizes) != num_points:
            raise InputError(f"dense outputs have {num_points} points, which fits no square input: run the "
                             f"model on {input_size[0]}x{input_size[1]} or on square images")
    return grid_points(sizes, strides, offset=offset, device=device), [h * w for h, w in sizes]


def grid_points(sizes, strides, offset: float = 0.0, device=None, dtype=torch.float32) -> Tensor:
    """Grid points of every level, (A, 3) as (x, y, stride), level by level, row-major in each.

    sizes: (h, w) per level; strides: one per level. The point of cell (i, j) at stride s is
    ((j + offset) * s, (i + offset) * s): offset 0 is mmdet's MlvlPointGenerator default (YOLOX-Pose,
    RTMO), 0.5 the cell centre (Ultralytics' anchor points).
    """
    points = []
    for (h, w), s in zip(sizes, strides):
        ys, xs = torch.meshgrid((torch.arange(h, device=device, dtype=dtype) + offset) * s,
                                (torch.arange(w, device=device, dtype=dtype) + offset) * s, indexing="ij")
        points.append(torch.stack([xs.flatten(), ys.flatten(), torch.full_like(xs.flatten(), s)], -1))
    return torch.cat(points) if points else torch.zeros((0, 3), device=device, dtype=dtype)


def flatten_levels(maps) -> Tensor:
    """[(B, C, h_l, w_l)] -> (B, sum h_l w_l, C), level by level, row-major in each level."""
    return torch.cat([m.flatten(2) for m in maps], dim=2).transpose(1, 2)


def best_per_image(image_index: Tensor, scores: Tensor, num_images: int, max_per_image: int) -> Tensor:
    """Indices of the `max_per_image` best-scoring detections of each image, grouped by image
    (ascending), best first within an image.

    image_index (N,) long, scores (N,) -> (M,) long indices into the N detections.
    """
    order = torch.sort(scores, descending=True, stable=True).indices
    order = order[torch.sort(image_index[order], stable=True).indices]  # by image, then by score
    counts = torch.bincount(image_index, minlength=num_images)  # (num_images,)
    first = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(order), device=order.device) - first[image_index[order]]
    return order[rank < max_per_image]


def split_by_image(image_index: Tensor, num_images: int) -> list[int]:
    """Detection counts per image for `Tensor.split`, given image_index sorted ascending."""
    return torch.bincount(image_index, minlength=num_images).tolist()


def read_targets(targets: dict, num_keypoints: int, device=None, dtype=torch.float32) -> dict[str, Tensor]:
    """The padded whole-image targets (collate_people) as tensors on `device`, shapes checked.

    -> boxes (B, M, 4) xyxy input px, keypoints (B, M, K, 2), visible (B, M, K) float in {0, 1, 2},
    areas (B, M), mask (B, M) bool.
    """
    missing = [k for k in TARGET_KEYS if k not in targets]
    if missing:
        raise InputError(f"targets lack {missing}: pass the dict collate_people builds, with keys {list(TARGET_KEYS)}")
    out = {k: torch.as_tensor(targets[k], device=device) for k in TARGET_KEYS}
    mask = out["mask"].bool()
    if mask.ndim != 2:
        raise InputError(f"targets['mask'] has shape {tuple(mask.shape)}: it must be (B, M)")
    b, m = mask.shape
    expected = {"boxes": (b, m, 4), "keypoints": (b, m, num_keypoints, 2), "visible": (b, m, num_keypoints),
                "areas": (b, m)}
    for key, shape in expected.items():
        if tuple(out[key].shape) != shape:
            raise InputError(f"targets['{key}'] has shape {tuple(out[key].shape)}, expected {shape} "
                             f"(B={b} images, M={m} people, K={num_keypoints} keypoints)")
        out[key] = out[key].to(dtype)
    out["mask"] = mask
    return out
