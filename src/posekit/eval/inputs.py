"""Ground truth and results for keypoint evaluation, read and checked once, as flat arrays.

Everything the evaluator needs per annotation and per result becomes a column (one row per person),
so that matching and accumulation never loop over people in Python. Bad input raises `InputError`
with one line naming the entry and the fix.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.core.errors import InputError
from posekit.data.coco import CocoKeypoints, load_coco, read_json

RESULT_FIELDS = ("image_id", "category_id", "keypoints", "score")
_KEYPOINT_ARRAY = re.compile(rb'"keypoints"\s*:\s*\[([^\]]*)\]')  # [^\]]* scans fastest
_LINE_BREAKS_TO_SPACES = bytes.maketrans(b"\r\n", b"  ")
_NOT_GIVEN = object()  # a field absent from an annotation


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
    where = path or "GT"
    read = _read_ground_truth_file(path) if path is not None else None
    if read is not None:
        data, coco = read
    else:
        data = source if path is None else read_json(path)
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
    time, so they are read by `_parse_keypoints_in_bulk`. Anything unexpected (a keypoints key nested
    elsewhere, ragged or non-numeric arrays, invalid JSON) falls back to plain `read_json`, which
    names the problem.
    """
    if not path.is_file():
        raise InputError(f"{path} does not exist: check the path")
    try:
        entries, keypoints = _parse_keypoints_in_bulk(path.read_bytes(), names=False)
        if not isinstance(entries, list) or len(entries) != len(keypoints):
            raise ValueError("not one keypoints array per entry")
    except ValueError:
        return read_json(path), None
    # Every "keypoints" key of the file held a cut-out array, and there are as many arrays as
    # entries: if each entry has the key (`_columns` checks), array i is entry i's.
    return entries, keypoints


def _read_ground_truth_file(path: Path) -> tuple[dict, CocoKeypoints] | None:
    """A COCO keypoint file read fast: annotation keypoints in bulk, `load_coco`'s checks on columns.

    Returns the parsed file (each annotation's "keypoints" replaced by 0) and its arrays, or None
    for anything but a plainly valid file of the usual types; the caller then reads it with
    `read_json` and `load_coco`, whose errors name the problem.
    """
    try:
        data, keypoints = _parse_keypoints_in_bulk(path.read_bytes(), names=True)
        return data, _coco_columns(data, keypoints)
    except (OSError, ValueError, TypeError, KeyError, OverflowError):
        return None


def _parse_keypoints_in_bulk(raw: bytes, names: bool) -> tuple[object, np.ndarray]:
    """JSON text parsed with its `"keypoints": [numbers]` arrays cut out and read by numpy in one call.

    Returns the document, each cut-out array replaced by 0, and the arrays as rows (N, W) in text
    order. With `names`, arrays holding strings (a category's keypoint names) stay in the JSON.
    Raises ValueError unless every "keypoints" key of the text holds a flat array, and at least one
    of numbers (a ragged, empty, nested or non-numeric one included).
    """
    pieces = _KEYPOINT_ARRAY.split(raw)  # text, array, text, array, ..., text
    arrays = pieces[1::2]
    pieces[1::2] = [b'"keypoints":0'] * len(arrays)
    if names:
        for i in [i for i, a in enumerate(arrays) if b'"' in a]:
            pieces[2 * i + 1] = b'"keypoints":[' + arrays[i] + b"]"  # as it was, but for spaces
        arrays = [a for a in arrays if b'"' not in a]
    text = b"".join(pieces)
    if not arrays or text.count(b'"keypoints"') != len(pieces) // 2:
        raise ValueError("a keypoints value that is not a flat array, or none that is")
    document = json.loads(text.decode())  # decoded as `read_json` does: no BOM, UTF-8 only
    if b"\r" in raw or (b"\n" in raw and any(b"\n" in a for a in arrays)):  # indented: one line per array
        arrays = [a.translate(_LINE_BREAKS_TO_SPACES) for a in arrays]
    rows = np.loadtxt(arrays, delimiter=",", dtype=np.float64, comments=None, ndmin=2, max_rows=len(arrays))
    if rows.shape[0] != len(arrays):  # loadtxt skips empty lines
        raise ValueError("an empty keypoints array")
    return document, rows


def _coco_columns(data, keypoints: np.ndarray) -> CocoKeypoints:
    """What `load_coco(data)` returns, for a COCO file whose annotations' keypoints are the rows
    (A, 3K) of `keypoints`. Raises (ValueError, TypeError, KeyError, OverflowError) wherever
    `load_coco` would fail, and where the fields are not of the usual types."""
    if not isinstance(data, dict) or type(data.get("images")) is not list \
            or type(data.get("annotations")) is not list:
        raise ValueError("not a COCO keypoint file")
    images, anns = data["images"], data["annotations"]
    categories = data.get("categories") or []
    n = len(anns)
    if type(categories) is not list or len(keypoints) != n or [a["keypoints"] for a in anns].count(0) != n:
        raise ValueError("not one keypoints array per annotation")
    named = [len(c["keypoints"]) for c in categories if isinstance(c, dict) and c.get("keypoints")]
    k = named[0] if named else keypoints.shape[1] // 3  # as load_coco infers it
    boxes = [a["bbox"] for a in anns]
    if keypoints.shape[1] != 3 * k or any(type(b) is not list or len(b) != 4 for b in boxes):
        raise ValueError("keypoints or bbox of the wrong length")
    image_ids = _typed_column([im["id"] for im in images], int)
    ann_ids = _typed_column([a["id"] for a in anns], int)
    ann_image_ids = _typed_column([a["image_id"] for a in anns], int)
    bboxes = np.array(boxes, dtype=np.float64)
    keypoints = keypoints.reshape(n, k, 3)
    if len(np.unique(image_ids)) != len(image_ids) or not np.isin(ann_image_ids, image_ids).all() \
            or not (np.isfinite(keypoints).all() and np.isfinite(bboxes).all()) or (bboxes[:, 2:] < 0).any():
        raise ValueError("ids, keypoints or boxes that load_coco refuses")
    areas = _typed_column([a.get("area", _NOT_GIVEN) for a in anns], float, bboxes[:, 2] * bboxes[:, 3])
    labelled = (keypoints[..., 2] > 0).sum(-1)
    return CocoKeypoints(
        path=None, images=images, categories=categories, ann_ids=ann_ids, ann_image_ids=ann_image_ids,
        keypoints=keypoints, bboxes=bboxes, areas=areas,
        iscrowd=np.array([bool(a.get("iscrowd", 0)) for a in anns], dtype=bool).reshape(n),
        num_keypoints=_typed_column([a.get("num_keypoints", _NOT_GIVEN) for a in anns], int, labelled),
    )


def _typed_column(values: list, kind: type, default: np.ndarray | None = None) -> np.ndarray:
    """`values` as an int64 (kind int) or float64 (kind float, ints allowed) array, `default` where a
    value is _NOT_GIVEN. ValueError for any other type (bool included): read such a file carefully."""
    types = set(map(type, values))
    given = None
    if type(_NOT_GIVEN) in types and default is not None:
        given = np.array([v is not _NOT_GIVEN for v in values], dtype=bool)
        values = [v if g else 0 for v, g in zip(values, given.tolist())]
        types = set(map(type, values))
    if not types <= ({int} if kind is int else {int, float}):
        raise ValueError(f"a value that is not a plain {kind.__name__}")
    array = np.array(values, dtype=np.int64 if kind is int else np.float64).reshape(len(values))
    return array if given is None else np.where(given, array, default)


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
