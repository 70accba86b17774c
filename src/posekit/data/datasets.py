"""Training datasets over a COCO-format directory (`annotations.json` + `images/`).

Randomness comes from (seed, epoch, index) only, so a sample is the same in any worker and after
a resume. Images are decoded once and kept in memory when the set is small enough.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import torch

from posekit.core.errors import InputError
from posekit.core.geometry import xywh_to_xyxy
from posekit.core.skeleton import Skeleton
from posekit.data import transforms as T
from posekit.data.coco import CocoKeypoints, load_coco
from posekit.data.images import read_image


def _cache_limit_bytes() -> int:
    """A third of physical memory (3 GiB where that is unknown). The DataLoader workers fork after
    the cache is filled and share its arrays copy-on-write, so it is held once."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 3
    except (ValueError, OSError, AttributeError):
        return 3 << 30


CACHE_LIMIT_BYTES = _cache_limit_bytes()


def find_annotations(root: str | Path) -> Path:
    root = Path(root)
    path = root if root.suffix == ".json" else root / "annotations.json"
    if not path.is_file():
        raise InputError(f"no annotations at {path}: pass a directory with annotations.json and images/ "
                         f"(make one with `posekit data synth`)")
    return path


def image_path(ann_file: Path, image: dict) -> Path:
    base = ann_file.parent / "images"
    return base / image["file_name"] if base.is_dir() else ann_file.parent / image["file_name"]


class _ImageStore:
    """Decoded images by index, cached in memory below CACHE_LIMIT_BYTES."""

    def __init__(self, paths: list[Path], sizes: list[tuple[int, int]]):
        self.paths = paths
        self.nbytes = np.array([h * w * 3 for h, w in sizes], dtype=np.int64).reshape(-1)
        self.cache_only(np.arange(len(paths)))

    def cache_only(self, indices: np.ndarray) -> None:
        """Cache only these images (the ones this process reads), if together they fit."""
        self.cacheable = np.zeros(len(self.paths), bool)
        self.cacheable[indices] = True
        self.cache = {} if self.nbytes[self.cacheable].sum() < CACHE_LIMIT_BYTES else None

    def __call__(self, i: int) -> np.ndarray:
        if self.cache is None or not self.cacheable[i]:
            return read_image(self.paths[i])
        if i not in self.cache:
            self.cache[i] = read_image(self.paths[i])
        return self.cache[i]


class CocoDirectory:
    """A COCO keypoint directory: annotations as arrays plus lazy, cached image decoding."""

    def __init__(self, root: str | Path, num_keypoints: int | None = None):
        self.ann_file = find_annotations(root)
        self.coco: CocoKeypoints = load_coco(self.ann_file, num_keypoints)
        ids = np.array([int(im["id"]) for im in self.coco.images], dtype=np.int64)
        self._id_order = np.argsort(ids, kind="stable")
        self._sorted_ids = ids[self._id_order]
        paths = [image_path(self.ann_file, im) for im in self.coco.images]
        self.read = _ImageStore(paths, [(im.get("height", 640), im.get("width", 640)) for im in self.coco.images])

    def image_indices(self, image_ids: np.ndarray) -> np.ndarray:
        """Positions in coco.images of these image ids (every one must be there)."""
        return self._id_order[np.searchsorted(self._sorted_ids, np.asarray(image_ids, dtype=np.int64))]


class TopDownDataset(torch.utils.data.Dataset):
    """One sample per labelled person: the affine crop around its padded box.

    Returns (crop (3,H,W) float32 RGB 0-255, {"keypoints": (K,2) crop pixels, "keypoint_weights": (K,)}).
    Crowd regions, people without labelled keypoints and empty boxes are skipped (MMPose's rule).
    """

    def __init__(self, data: CocoDirectory, input_size: tuple[int, int], skeleton: Skeleton,
                 augment=None, seed: int = 0):
        self.data, self.input_size, self.skeleton, self.augment, self.seed = data, input_size, skeleton, augment, seed
        coco = data.coco
        if coco.num_keypoints_per_person != skeleton.num_keypoints:
            raise InputError(f"{data.ann_file} has {coco.num_keypoints_per_person} keypoints per person but the "
                             f"model expects {skeleton.num_keypoints}: pick the matching skeleton/model")
        usable = ~coco.iscrowd & (coco.num_keypoints > 0) & (coco.bboxes[:, 2] > 0) & (coco.bboxes[:, 3] > 0)
        self.rows = np.flatnonzero(usable)
        self.sample_images = data.image_indices(coco.ann_image_ids[self.rows])
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int):
        coco = self.data.coco
        row = self.rows[i]
        image = self.data.read(int(self.sample_images[i]))
        h_in, w_in = self.input_size
        box = xywh_to_xyxy(coco.bboxes[row:row + 1])
        center, scale = T.box_to_center_scale(box, aspect_ratio=w_in / h_in)
        keypoints = coco.keypoints[row:row + 1, :, :2]
        visible = coco.keypoints[row:row + 1, :, 2] > 0
        rotation = np.zeros(1)
        aug = self.augment
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        if aug is not None:
            if rng.random() < aug.flip:
                image = image[:, ::-1]
                keypoints, visible = T.flip_keypoints(keypoints, visible, image.shape[1], self.skeleton.flip_indices)
                center = T.flip_points(center, image.shape[1])
            center, scale, rotation = T.random_box_transform(
                rng, center, scale, shift=aug.shift, shift_prob=aug.shift_prob, scale_range=tuple(aug.scale),
                rotation=aug.rotate, rotation_prob=aug.rotate_prob)
        M = T.warp_matrix(center, scale, rotation, (w_in, h_in))[0]
        crop = cv2.warpAffine(np.ascontiguousarray(image), M, (w_in, h_in), flags=cv2.INTER_LINEAR)
        if aug is not None and any(aug.hsv):
            crop = T.hsv_jitter(rng, crop, *aug.hsv)
        kpts = T.apply_affine(keypoints[0], M)  # (K, 2)
        inside = (kpts >= 0).all(-1) & (kpts[:, 0] <= w_in - 1) & (kpts[:, 1] <= h_in - 1)
        weights = (visible[0] & inside).astype(np.float32)
        return (torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float(),
                {"keypoints": torch.from_numpy(kpts.astype(np.float32)), "keypoint_weights": torch.from_numpy(weights)})


class DetectionDataset(torch.utils.data.Dataset):
    """Whole images for detectors and one-stage models, letterboxed to a square `size`.

    Returns (image (3,S,S) float32 RGB 0-255, targets) with targets per person: boxes (M,4) xyxy,
    keypoints (M,K,2), visible (M,K), areas (M,), all in input pixels; `collate_people` pads them.
    Augmentation (when `augment` is given): a 4-image mosaic with probability `augment.mosaic`, a
    random affine (scale `augment.scale`, shift `augment.translate`, rotation `augment.rotate` with
    probability `rotate_prob`), flip with flip pairs, HSV. People left with boxes under 2 px are dropped.
    """

    def __init__(self, data: CocoDirectory, size: int, skeleton: Skeleton, augment=None, seed: int = 0):
        self.data, self.size, self.skeleton, self.augment, self.seed = data, size, skeleton, augment, seed
        self.sample_images = np.arange(len(data.coco.images))
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.data.coco.images)

    def _people(self, i: int):
        """Image i and its non-crowd people: keypoints (N,K,3), boxes (N,4) xyxy, areas (N,)."""
        coco = self.data.coco
        rows = coco.annotation_rows(int(coco.images[i]["id"]))
        rows = rows[~coco.iscrowd[rows] & (coco.bboxes[rows, 2] > 1) & (coco.bboxes[rows, 3] > 1)]
        return self.data.read(i), coco.keypoints[rows], xywh_to_xyxy(coco.bboxes[rows]), coco.areas[rows]

    def _mosaic(self, rng, i: int):
        """Four letterbox-sized images around a random centre of a 2S x 2S canvas (Ultralytics)."""
        s = self.size
        canvas = np.full((2 * s, 2 * s, 3), 114, np.uint8)
        xc, yc = rng.uniform(0.5 * s, 1.5 * s, 2).astype(int)
        picks = [i] + list(rng.integers(0, len(self), 3))
        parts = []
        for corner, j in enumerate(picks):
            image, kpts, boxes, areas = self._people(int(j))
            h0, w0 = image.shape[:2]
            r = s / max(h0, w0)
            image = cv2.resize(image, (max(1, round(w0 * r)), max(1, round(h0 * r))))
            h, w = image.shape[:2]
            x0 = xc - w if corner in (0, 2) else xc  # where the resized image's top-left lands
            y0 = yc - h if corner in (0, 1) else yc
            region = np.array([max(x0, 0), max(y0, 0), min(x0 + w, 2 * s), min(y0 + h, 2 * s)])
            canvas[region[1]:region[3], region[0]:region[2]] = \
                image[region[1] - y0:region[3] - y0, region[0] - x0:region[2] - x0]
            rx, ry = w / w0, h / h0
            M = np.array([[rx, 0, x0 + 0.5 * rx - 0.5], [0, ry, y0 + 0.5 * ry - 0.5]])  # cv2.resize's pixel centres
            xy = T.apply_affine(kpts[..., :2], M)
            inside = (xy >= region[:2]).all(-1) & (xy <= region[2:] - 1).all(-1) & (kpts[..., 2] > 0)
            kpts = np.concatenate([np.where(inside[..., None], xy, 0), np.where(inside, kpts[..., 2], 0)[..., None]], -1)
            boxes = np.clip(T.apply_affine(boxes.reshape(-1, 2, 2), M).reshape(-1, 4),
                            np.tile(region[:2], 2), np.tile(region[2:] - 1, 2))
            parts.append((kpts, boxes, areas * rx * ry))
        kpts, boxes, areas = (np.concatenate(p) for p in zip(*parts))
        return canvas, kpts, boxes, areas

    def __getitem__(self, i: int):
        aug, s = self.augment, self.size
        rng = np.random.default_rng([self.seed, self.epoch, int(i)])
        mosaic = aug is not None and rng.random() < aug.mosaic
        if mosaic:
            image, keypoints, boxes, areas = self._mosaic(rng, i)
        else:
            image, keypoints, boxes, areas = self._people(i)
        M = T.letterbox(image, s)[1] if not mosaic else None
        if aug is not None:
            if rng.random() < aug.flip:
                image, keypoints, boxes = T.hflip(image, keypoints, boxes, self.skeleton.flip_indices)
            degrees = aug.rotate if rng.random() < aug.rotate_prob else 0.0
            canvas = 2 * s if mosaic else s
            jitter = T.random_affine_matrix(rng, s, degrees=degrees, translate=aug.translate, scale=0.0,
                                            image_size=(canvas, canvas))
            f, c = rng.uniform(*aug.scale), (s - 1) / 2
            zoom = np.array([[f, 0, (1 - f) * c], [0, f, (1 - f) * c], [0, 0, 1]])  # about the output centre
            M = (zoom @ np.vstack([jitter, [0, 0, 1]]))[:2] if mosaic else \
                (zoom @ np.vstack([jitter, [0, 0, 1]]) @ np.vstack([M, [0, 0, 1]]))[:2]
        warped = T.warp_image(image, M, s)
        if aug is not None and any(aug.hsv):
            warped = T.hsv_jitter(rng, warped, *aug.hsv)
        keypoints, boxes = T.transform_annotations(keypoints, boxes, M, s)
        areas = areas * abs(np.linalg.det(M[:, :2]))
        keep = ((boxes[:, 2] - boxes[:, 0]) > 2) & ((boxes[:, 3] - boxes[:, 1]) > 2)
        targets = {"boxes": boxes[keep], "keypoints": keypoints[keep, :, :2], "visible": keypoints[keep, :, 2],
                   "areas": areas[keep]}
        return (torch.from_numpy(np.ascontiguousarray(warped)).permute(2, 0, 1).float(),
                {k: torch.from_numpy(np.asarray(v, dtype=np.float32)) for k, v in targets.items()})


def collate_people(batch):
    """Stack images; pad per-person targets to the most people in the batch, with a `mask`."""
    images = torch.stack([b[0] for b in batch])
    most = max([len(b[1]["boxes"]) for b in batch] + [1])
    targets = {}
    for key in batch[0][1]:
        first = batch[0][1][key]
        padded = first.new_zeros((len(batch), most) + tuple(first.shape[1:]))
        for j, (_, t) in enumerate(batch):
            padded[j, :len(t[key])] = t[key]
        targets[key] = padded
    counts = torch.tensor([len(b[1]["boxes"]) for b in batch])
    targets["mask"] = torch.arange(most)[None] < counts[:, None]
    return images, targets
