"""`posekit vis`: draw a dataset's ground truth, or a COCO results file, onto its images."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from posekit.core.errors import InputError
from posekit.core.poses import Poses
from posekit.core.skeleton import SKELETONS, Skeleton, skeleton_from_dict


def skeleton_of(categories: list[dict], num_keypoints: int) -> Skeleton:
    """The built-in skeleton whose keypoint names the dataset's category lists, else one built from it."""
    category = next((c for c in categories if c.get("keypoints")), None)
    if category is None:
        matches = [s for s in SKELETONS.values() if s.num_keypoints == num_keypoints]
        if not matches:
            raise InputError(f"the annotations name no keypoints and no built-in skeleton has {num_keypoints}: "
                             f"add a 'categories' entry with 'keypoints' and 'skeleton'")
        return matches[0]
    names = tuple(category["keypoints"])
    for skeleton in SKELETONS.values():
        if skeleton.keypoints == names:
            return skeleton
    pairs = [[n, "right" + n[4:]] for n in names if n.startswith("left") and "right" + n[4:] in names]
    links = [[a - 1, b - 1] for a, b in category.get("skeleton") or []]
    return skeleton_from_dict({"name": category.get("name", "custom"), "keypoints": list(names),
                               "flip_pairs": pairs, "links": links}, source="annotations category")


def load_results(path: Path, num_keypoints: int, skeleton: Skeleton, image_ids: set[int],
                 kpt_thr: float = 0.0) -> dict[int, Poses]:
    """A COCO keypoint results file as Poses per image id.

    Boxes come from `bbox` (xywh) where an entry has one, else from its keypoints scored >= kpt_thr.
    """
    from posekit.core.geometry import keypoint_boxes
    from posekit.data.coco import read_json

    results = read_json(path)
    if not isinstance(results, list) or not all(isinstance(r, dict) for r in results):
        raise InputError(f"{path}: a results file is a JSON list of {{image_id, keypoints, score}} entries")
    bad = [r for r in results if not {"image_id", "keypoints", "score"} <= r.keys()
           or not isinstance(r["keypoints"], list) or len(r["keypoints"]) != 3 * num_keypoints]
    if bad:
        raise InputError(f"{path}: {len(bad)} entries lack image_id/score or {3 * num_keypoints} keypoint values: "
                         f"write one entry per person with keypoints as [x, y, score] * {num_keypoints}")
    if not results:
        return {}
    ids = np.array([r["image_id"] for r in results], dtype=np.int64)
    unknown = sorted(set(ids.tolist()) - image_ids)
    if unknown:
        raise InputError(f"{path}: results for image ids {unknown[:5]} that the dataset does not have: "
                         f"check that --results belongs to --data")
    kpts = np.array([r["keypoints"] for r in results], dtype=np.float64).reshape(len(results), num_keypoints, 3)
    scores = np.array([r["score"] for r in results], dtype=np.float64)
    xywh = np.array([r.get("bbox") or [0.0, 0.0, 0.0, 0.0] for r in results], dtype=np.float64).reshape(-1, 4)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], 1)
    no_box = (xywh[:, 2:] <= 0).any(1)
    boxes[no_box] = keypoint_boxes(kpts[no_box, :, :2], kpts[no_box, :, 2] >= kpt_thr)
    order = np.argsort(ids, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(ids[order]) != 0])
    groups = np.split(order, starts[1:])
    return {int(ids[g[0]]): Poses(kpts[g, :, :2], kpts[g, :, 2], boxes[g], scores[g], skeleton) for g in groups}


def run(args) -> int:
    import cv2

    from posekit.data.coco import load_coco
    from posekit.data.images import read_image, write_image
    from posekit.vis import draw_annotations, draw_poses

    data = Path(args.data)
    ann_path = data / "annotations.json"
    if not ann_path.is_file():
        raise InputError(f"{data} has no annotations.json: point --data at a folder with annotations.json and "
                         f"images/ (e.g. one written by `posekit data synth`)")
    coco = load_coco(ann_path)
    skeleton = skeleton_of(coco.categories, coco.num_keypoints_per_person)
    images = sorted(coco.images, key=lambda im: im["id"])[: args.max_images]
    predictions = None
    if args.results:
        predictions = load_results(Path(args.results), coco.num_keypoints_per_person, skeleton,
                                   set(coco.image_ids.tolist()), args.kpt_thr)
    out = Path(args.out)
    for image in images:
        rgb = read_image(data / "images" / image["file_name"])
        if predictions is None:
            rows = coco.annotation_rows(image["id"])
            drawn = draw_annotations(rgb, coco.keypoints[rows], skeleton, coco.bboxes[rows])
        else:
            poses = predictions.get(int(image["id"]), Poses.empty(skeleton))
            drawn = draw_poses(rgb, poses, kpt_thr=args.kpt_thr)
        if args.width and args.width != drawn.shape[1]:
            height = max(1, round(drawn.shape[0] * args.width / drawn.shape[1]))
            drawn = cv2.resize(drawn, (args.width, height), interpolation=cv2.INTER_AREA)
        write_image(out / f"{Path(image['file_name']).stem}.{args.format}", drawn)
    print(f"drew {'predictions' if predictions is not None else 'ground truth'} on {len(images)} images into {out}")
    return 0


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must lie in [0, 1], got {value}")
    return value


def register(sub) -> None:
    p = sub.add_parser("vis", help="draw ground truth or predictions onto a dataset's images",
                       description="Draw DIR's ground truth (annotations.json + images/), or the poses "
                                   "of a COCO keypoint results file, into --out.")
    p.add_argument("--data", required=True, metavar="DIR", help="dataset folder: annotations.json and images/")
    p.add_argument("--results", metavar="RES.json", help="COCO keypoint results to draw instead of the ground truth")
    p.add_argument("--out", default="runs/vis", metavar="DIR", help="where drawings go (default runs/vis)")
    p.add_argument("--max-images", type=_positive, default=20, metavar="N", help="draw the first N images (default 20)")
    p.add_argument("--kpt-thr", type=_fraction, default=0.3,
                   help="hide predicted keypoints scored below this (default 0.3)")
    p.add_argument("--width", type=_positive, default=None, help="resize drawings to this width")
    p.add_argument("--format", choices=("jpg", "png"), default="jpg", help="image format of the drawings (default jpg)")
    p.set_defaults(func=run)
