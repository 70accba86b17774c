"""COCO-format keypoint annotations: read into arrays, write back.

`load_coco` checks the file and returns `CocoKeypoints`, whose per-annotation fields are arrays
(one row per annotation) so that datasets and evaluation never loop over people in Python.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.core.errors import InputError
from posekit.core.io import write_json
from posekit.core.skeleton import Skeleton


@dataclass
class CocoKeypoints:
    """A COCO keypoint file as arrays. A = annotations, K = keypoints per person."""

    path: Path | None
    images: list[dict]               # as in the file; `crowdIndex` kept where present
    categories: list[dict]
    ann_ids: np.ndarray              # (A,) int64
    ann_image_ids: np.ndarray        # (A,) int64
    keypoints: np.ndarray            # (A,K,3) float64: x, y, v
    bboxes: np.ndarray               # (A,4) float64 xywh
    areas: np.ndarray                # (A,) float64
    iscrowd: np.ndarray              # (A,) bool
    num_keypoints: np.ndarray        # (A,) int64, as written in the file

    @property
    def num_keypoints_per_person(self) -> int:
        return self.keypoints.shape[1]

    @property
    def image_ids(self) -> np.ndarray:
        return np.array([im["id"] for im in self.images], dtype=np.int64)

    def image_by_id(self) -> dict[int, dict]:
        return {int(im["id"]): im for im in self.images}

    def annotation_rows(self, image_id: int) -> np.ndarray:
        """Indices of the annotations of one image."""
        return np.flatnonzero(self.ann_image_ids == image_id)


def _fail(path, what, fix):
    raise InputError(f"{path}: {what}: {fix}")


def read_json(path: str | Path):
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path} does not exist: check the path")
    try:
        return json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not valid JSON ({e}): regenerate or fix the file") from None


def load_coco(source: str | Path | dict, num_keypoints: int | None = None) -> CocoKeypoints:
    """Read a COCO keypoint annotation file (or an already-parsed dict) and check it."""
    path = None if isinstance(source, dict) else Path(source)
    data = source if isinstance(source, dict) else read_json(path)
    where = path or "annotations"
    if not isinstance(data, dict) or not isinstance(data.get("images"), list) \
            or not isinstance(data.get("annotations"), list):
        _fail(where, "not a COCO keypoint file", "it needs 'images' and 'annotations' lists")
    images, anns = data["images"], data["annotations"]
    categories = data.get("categories") or []
    if any(not isinstance(im, dict) or "id" not in im for im in images):
        _fail(where, "an image entry has no 'id'", "give every image an integer id")
    image_ids = {im["id"] for im in images}
    if len(image_ids) != len(images):
        _fail(where, "image ids repeat", "give every image a unique id")
    if num_keypoints is None:
        cat_k = [len(c["keypoints"]) for c in categories if isinstance(c, dict) and c.get("keypoints")]
        first = next((a["keypoints"] for a in anns if isinstance(a, dict) and a.get("keypoints")), None)
        num_keypoints = cat_k[0] if cat_k else (len(first) // 3 if first else 17)
    k = num_keypoints
    required = ("id", "image_id", "keypoints", "bbox")
    for a in anns:
        missing = [f for f in required if not isinstance(a, dict) or f not in a]
        if missing:
            _fail(where, f"annotation {a.get('id') if isinstance(a, dict) else a!r} lacks {missing}",
                  "every annotation needs id, image_id, keypoints and bbox")
        if a["image_id"] not in image_ids:
            _fail(where, f"annotation {a['id']} refers to image {a['image_id']}, which is not listed",
                  "add the image to 'images' or drop the annotation")
        if not isinstance(a["keypoints"], list) or len(a["keypoints"]) != 3 * k:
            _fail(where, f"annotation {a['id']} has {len(a['keypoints']) if isinstance(a['keypoints'], list) else 'no'} "
                  f"keypoint values, expected {3 * k} ({k} keypoints x 3)",
                  "check the keypoint count of the dataset")
        if not isinstance(a["bbox"], list) or len(a["bbox"]) != 4:
            _fail(where, f"annotation {a['id']} has a bbox that is not [x, y, w, h]", "fix its bbox")
    n = len(anns)
    try:
        keypoints = np.array([a["keypoints"] for a in anns], dtype=np.float64).reshape(n, k, 3)
        bboxes = np.array([a["bbox"] for a in anns], dtype=np.float64).reshape(n, 4)
    except (TypeError, ValueError):
        _fail(where, "keypoints or bbox hold non-numbers", "write numbers only")
    if not (np.isfinite(keypoints).all() and np.isfinite(bboxes).all()):
        _fail(where, "keypoints or bbox contain NaN or infinity", "replace them with numbers")
    if (bboxes[:, 2:] < 0).any():
        _fail(where, "a bbox has negative width or height", "write boxes as [x, y, w, h] with w, h >= 0")
    labelled = (keypoints[..., 2] > 0).sum(-1)
    return CocoKeypoints(
        path=path, images=images, categories=categories,
        ann_ids=np.array([a["id"] for a in anns], dtype=np.int64).reshape(n),
        ann_image_ids=np.array([a["image_id"] for a in anns], dtype=np.int64).reshape(n),
        keypoints=keypoints, bboxes=bboxes,
        areas=np.array([a.get("area", b[2] * b[3]) for a, b in zip(anns, bboxes)], dtype=np.float64).reshape(n),
        iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool).reshape(n),
        num_keypoints=np.array([a.get("num_keypoints", c) for a, c in zip(anns, labelled)], dtype=np.int64).reshape(n),
    )


def coco_dict(images: list[dict], keypoints: np.ndarray, bboxes: np.ndarray, areas: np.ndarray,
              image_ids: np.ndarray, skeleton: Skeleton, iscrowd: np.ndarray | None = None) -> dict:
    """Build a COCO keypoint dict from per-annotation arrays (keypoints (A,K,3), bboxes xywh)."""
    n = len(keypoints)
    iscrowd = np.zeros(n, dtype=bool) if iscrowd is None else iscrowd
    flat = np.round(np.asarray(keypoints, dtype=np.float64).reshape(n, -1), 2).tolist()
    anns = [{"id": i + 1, "image_id": int(img), "category_id": 1, "keypoints": kp,
             "num_keypoints": int(nk), "bbox": b, "area": float(ar), "iscrowd": int(c)}
            for i, (img, kp, nk, b, ar, c) in enumerate(zip(
                np.asarray(image_ids).tolist(), flat, (np.asarray(keypoints)[..., 2] > 0).sum(-1).tolist(),
                np.round(np.asarray(bboxes, dtype=np.float64), 2).tolist(), np.asarray(areas).tolist(),
                iscrowd.tolist()))]
    return {"images": images, "annotations": anns, "categories": [skeleton.coco_category()]}


def write_coco(path: str | Path, data: dict) -> None:
    write_json(path, data)
