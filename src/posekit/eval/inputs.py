"""Ground truth and results for keypoint evaluation, read and checked once, as flat arrays.

Everything the evaluator needs per annotation and per result becomes a column (one row per person),
so that matching and accumulation never loop over people in Python. Bad input raises `InputError`
with one line naming the entry and the fix.
"""

from __future__ import annotations

import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.core.errors import InputError
from posekit.data.coco import load_coco, read_json

RESULT_FIELDS = ("image_id", "category_id", "keypoints", "score")
_KEYPOINT_ARRAY = re.compile(rb'"keypoints"\s*:\s*\[([^\[\]]*)\]')
_LINE_BREAKS_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")


@dataclass
class GroundTruth:
    """A COCO keypoint file for evaluation. I = images, C = categories, G = annotations, K = keypoints.

    Images and categories are sorted by id (the order pycocotools evaluates them in); annotations keep
    their file order and only those of a listed category.
    """

    image_ids: np.ndarray        # (I,) int64, sorted
    crowd_index: np.ndarray      # (I,) float64 `crowdIndex` of each image, NaN where absent
    category_ids: np.ndarray     # (C,) int64, sorted
    ann_ids: np.ndarray          # (G,) int64
    image_index: np.ndarray      # (G,) position of each annotation's image in `image_ids`
    category_index: np.ndarray   # (G,) position of each annotation's category in `category_ids`
    keypoints: np.ndarray        # (G,K,3) float64 x, y, v
    bboxes: np.ndarray           # (G,4) float64 xywh
    areas: np.ndarray            # (G,) float64, the file's `area`
    iscrowd: np.ndarray          # (G,) bool
    num_keypoints: np.ndarray    # (G,) int64, the file's `num_keypoints` field

    @property
    def num_keypoints_per_person(self) -> int:
        return self.keypoints.shape[1]


@dataclass
class Results:
    """COCO results entries as columns, in file order. D = entries, K = keypoints."""

    image_index: np.ndarray      # (D,) position of each entry's image in GroundTruth.image_ids
    category_index: np.ndarray   # (D,) position in GroundTruth.category_ids, -1 for unknown categories
    keypoints: np.ndarray        # (D,K,3) float64 x, y, score
    scores: np.ndarray           # (D,) float64
    areas: np.ndarray            # (D,) float64, as pycocotools' loadRes sets it

    def __len__(self) -> int:
        return len(self.scores)


def load_ground_truth(source: str | Path | dict) -> GroundTruth:
    """Read and check a COCO keypoint file (path or parsed dict)."""
    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    data = source if path is None else read_json(path)
    where = path or "GT"
    try:
        coco = load_coco(data)
    except InputError as e:
        raise InputError(f"{where}: {e}") from None
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: an annotation field holds something that is not a number ({e}): "
                         f"write numbers") from None
    if not (np.isfinite(coco.areas) & (coco.areas >= 0)).all():
        bad = coco.ann_ids[~(np.isfinite(coco.areas) & (coco.areas >= 0))][0]
        raise InputError(f"{where}: annotation {bad} has a negative or non-finite 'area': write the "
                         f"person's segmentation area (or drop the field to use the box area)")
    categories = coco.categories
    if not categories or any(not isinstance(c, dict) or "id" not in c for c in categories):
        raise InputError(f"{where}: needs a 'categories' list whose entries have an 'id' (e.g. "
                         f"{{\"id\": 1, \"name\": \"person\"}}): results are matched by category_id")
    try:
        ann_categories = np.array([a["category_id"] for a in data["annotations"]], dtype=np.int64)
    except KeyError:
        raise InputError(f"{where}: an annotation lacks 'category_id': give every annotation the id "
                         f"of its category") from None
    except (TypeError, ValueError):
        raise InputError(f"{where}: a 'category_id' is not an integer: write integer ids") from None
    category_ids = np.unique(np.array([c["id"] for c in categories], dtype=np.int64))
    image_ids = np.unique(coco.image_ids)
    listed = np.isin(ann_categories, category_ids)  # pycocotools evaluates only listed categories
    try:
        crowd_index = np.array([im.get("crowdIndex", np.nan) for im in coco.images], dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{where}: an image has a 'crowdIndex' that is not a number: write a number "
                         f"in [0, 1]") from None
    return GroundTruth(
        image_ids=image_ids,
        crowd_index=crowd_index[np.argsort(coco.image_ids, kind="stable")],
        category_ids=category_ids,
        ann_ids=coco.ann_ids[listed],
        image_index=np.searchsorted(image_ids, coco.ann_image_ids[listed]),
        category_index=np.searchsorted(category_ids, ann_categories[listed]),
        keypoints=coco.keypoints[listed],
        bboxes=coco.bboxes[listed],
        areas=coco.areas[listed],
        iscrowd=coco.iscrowd[listed],
        num_keypoints=coco.num_keypoints[listed],
    )


def load_results(source: str | Path | list, gt: GroundTruth) -> Results:
    """Read and check COCO results entries (path or list) against the ground truth they answer.

    Each entry needs image_id, category_id, keypoints (3K numbers) and score. The detection area is
    set as pycocotools' `loadRes` sets it: from every entry's `bbox` (w * h) when the *first* entry
    has a non-empty bbox, else from the extent of the keypoints.
    """
    path = Path(source) if isinstance(source, (str, os.PathLike)) else None
    entries, keypoints = (source, None) if path is None else _read_results_file(path)
    where = path or "results"
    k = gt.num_keypoints_per_person
    if not isinstance(entries, list):
        raise InputError(f"{where}: results must be a JSON list of entries with {', '.join(RESULT_FIELDS)}, "
                         f"got a {type(entries).__name__}")
    if not entries:
        return Results(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, k, 3)), np.zeros(0), np.zeros(0))
    columns = _columns(entries, RESULT_FIELDS, where)
    image_ids = _integers(columns["image_id"], "image_id", where)
    category_ids = _integers(columns["category_id"], "category_id", where)
    fix = f"{k} keypoints x (x, y, score); check the keypoint count of the model and the GT"
    if keypoints is None:
        keypoints = _numbers(columns["keypoints"], 3 * k, "keypoints", where, fix)
    elif keypoints.shape[1] != 3 * k:
        raise InputError(f"{where}: entry 0 has {keypoints.shape[1]} values in 'keypoints', expected {3 * k}: {fix}")
    else:
        _check_finite(keypoints, "keypoints", where)
    scores = _numbers(columns["score"], None, "score", where, "write a number")
    known = np.isin(image_ids, gt.image_ids)
    if not known.all():
        bad = np.flatnonzero(~known)
        raise InputError(f"{where}: {len(bad)} entries refer to image ids that are not in the GT (first: "
                         f"image_id {image_ids[bad[0]]} at entry {bad[0]}): evaluate against the "
                         f"annotation file these results were made for")
    keypoints = keypoints.reshape(-1, k, 3)
    listed = np.isin(category_ids, gt.category_ids)  # entries of other categories are not evaluated
    return Results(
        image_index=np.searchsorted(gt.image_ids, image_ids),
        category_index=np.where(listed, np.searchsorted(gt.category_ids, category_ids), -1),
        keypoints=keypoints,
        scores=scores,
        areas=_result_areas(entries, keypoints, where),
    )


def _columns(entries: list, fields: tuple[str, ...], where) -> dict[str, list]:
    """Each field as a list over entries; names the first entry that is not a dict or lacks a field."""
    try:
        return {f: [e[f] for e in entries] for f in fields}
    except (KeyError, TypeError, IndexError):
        for i, e in enumerate(entries):
            if not isinstance(e, dict):
                raise InputError(f"{where}: entry {i} is a {type(e).__name__}, not an object: each entry "
                                 f"needs {', '.join(fields)}") from None
            missing = [f for f in fields if f not in e]
            if missing:
                raise InputError(f"{where}: entry {i} lacks {missing}: each entry needs "
                                 f"{', '.join(fields)}") from None
        raise


def _integers(values: list, field: str, where) -> np.ndarray:
    array = np.array(values)
    if array.ndim != 1 or array.dtype.kind not in "iub":
        first = next((i for i, v in enumerate(values) if not isinstance(v, (int, np.integer))), 0)
        raise InputError(f"{where}: entry {first} has {field} {values[first]!r}: write an integer id")
    return array.astype(np.int64)


def _numbers(values: list, length: int | None, field: str, where, fix: str) -> np.ndarray:
    """A float64 array of `values` (each a list of `length` numbers, or a number when length is None)."""
    if length is not None:
        lengths = [len(v) if isinstance(v, list) else -1 for v in values]
        if any(n != length for n in lengths):
            i = next(i for i, n in enumerate(lengths) if n != length)
            got = f"{lengths[i]} values" if lengths[i] >= 0 else f"a {type(values[i]).__name__}"
            raise InputError(f"{where}: entry {i} has {got} in '{field}', expected {length}: {fix}")
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError):
        bad = next(i for i, v in enumerate(values) if not _all_numbers(v))
        raise InputError(f"{where}: entry {bad} has a non-number in '{field}': {fix}") from None
    return _check_finite(array, field, where)


def _check_finite(array: np.ndarray, field: str, where) -> np.ndarray:
    finite = np.isfinite(array).reshape(len(array), -1).all(-1)
    if not finite.all():
        bad = int(np.flatnonzero(~finite)[0])
        raise InputError(f"{where}: entry {bad} has NaN or infinity in '{field}' "
                         f"({int((~finite).sum())} entries do): write finite numbers")
    return array


def _read_results_file(path: Path) -> tuple[object, np.ndarray | None]:
    """A results file parsed, and when they could be read in bulk, every entry's keypoints (D, 3K).

    Parsing millions of keypoint numbers one Python float at a time is most of an evaluation's
    time, so each entry's `"keypoints": [...]` is cut out of the text and numpy reads them all in one
    call, while json parses the rest. Anything unexpected (a keypoints key nested elsewhere, ragged
    or non-numeric arrays, invalid JSON) falls back to plain `read_json`, which names the problem.
    """
    if not path.is_file():
        raise InputError(f"{path} does not exist: check the path")
    pieces = _KEYPOINT_ARRAY.split(path.read_bytes())  # text, array, text, array, ..., text
    arrays = pieces[1::2]
    try:
        entries = json.loads(b'"keypoints":0'.join(pieces[0::2]))
        if not arrays or not isinstance(entries, list) or len(entries) != len(arrays) \
                or any(not isinstance(e, dict) or e.get("keypoints") != 0 for e in entries):
            raise ValueError("not one plain keypoints array per entry")
        rows = b";".join(arrays).translate(_LINE_BREAKS_TO_SPACES).replace(b";", b"\n")  # one row per entry
        keypoints = np.loadtxt(io.BytesIO(rows), delimiter=",", dtype=np.float64, comments=None, ndmin=2)
        if keypoints.shape[0] != len(entries):
            raise ValueError("an empty keypoints array")
    except (ValueError, UnicodeDecodeError):
        return read_json(path), None
    return entries, keypoints


def _all_numbers(value) -> bool:
    items = value if isinstance(value, list) else [value]
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in items)


def _result_areas(entries: list, keypoints: np.ndarray, where) -> np.ndarray:
    """Detection areas, as `COCO.loadRes` computes them (used only for the area-range ignore rule)."""
    first = entries[0]
    if "bbox" in first and first["bbox"] != []:
        boxes = [e.get("bbox") for e in entries]
        if any(not isinstance(b, list) or len(b) != 4 for b in boxes):
            i = next(i for i, b in enumerate(boxes) if not isinstance(b, list) or len(b) != 4)
            raise InputError(f"{where}: entry 0 has a 'bbox', so every entry needs one as [x, y, w, h] "
                             f"(pycocotools takes the area from it), but entry {i} has {boxes[i]!r}")
        boxes = _numbers(boxes, 4, "bbox", where, "[x, y, w, h]")
        return boxes[:, 2] * boxes[:, 3]
    if "segmentation" in first:
        raise InputError(f"{where}: entry 0 has 'segmentation' but no 'bbox', so pycocotools would take "
                         f"the detection area from the mask: add a 'bbox' or drop 'segmentation'")
    x, y = keypoints[..., 0], keypoints[..., 1]
    return (x.max(-1) - x.min(-1)) * (y.max(-1) - y.min(-1))


def read_sigmas(path: str | Path) -> list[float]:
    """OKS sigmas from a file: a JSON list, or numbers separated by newlines, spaces or commas."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"sigmas file {path} does not exist: check the path")
    text = path.read_text()
    try:
        values = json.loads(text)
    except json.JSONDecodeError:
        values = text.replace(",", " ").split()
    if not isinstance(values, list) or not values:
        raise InputError(f"sigmas file {path} must hold a list of numbers, one per keypoint")
    try:
        return [float(v) for v in values]
    except (TypeError, ValueError):
        raise InputError(f"sigmas file {path} holds something that is not a number: write one number "
                         f"per keypoint (JSON list or one per line)") from None
