"""Random but adversarial keypoint evaluation cases, small enough to run pycocotools on in tests.

They hold what trips evaluators up: crowd regions, people with no labelled keypoint (and a
`num_keypoints` field that disagrees with the flags), images without people, more than 20 results
in an image, duplicates, misses, tied scores, exact copies of the GT, image ids out of order.
"""

from __future__ import annotations

import numpy as np


def random_case(rng: np.random.Generator, num_images: int = 8, num_keypoints: int = 17,
                categories: tuple[int, ...] = (1,), with_bbox: bool = False, crowd_index: bool = False,
                odd_id: int | None = None) -> tuple[dict, list[dict]]:
    """A (gt dict, results list) pair in COCO format; `odd_id` gives one GT that id (0 or -1, the
    "unmatched" markers of pycocotools and xtcocotools)."""
    k = num_keypoints
    image_ids = rng.choice(np.arange(1, 10 * num_images + 1), size=num_images, replace=False)
    images = [{"id": int(i), "file_name": f"{i}.jpg", "width": 640, "height": 480} for i in image_ids]
    if crowd_index:
        for im in images:
            im["crowdIndex"] = float(np.round(rng.choice([rng.uniform(0, .2), .2, rng.uniform(.2, .8), .8,
                                                          rng.uniform(.8, 1)]), 2))  # and the edges
    anns, results = [], []
    for image_id in image_ids:
        people = rng.choice([0, 1, 2, 3, 5, 8], p=[.15, .2, .2, .2, .15, .1])
        for _ in range(people):
            anns.append(_person(rng, int(image_id), k, len(anns) + 1, categories))
        results += _results_for(rng, int(image_id), anns, k, categories)
    if odd_id is not None and anns:
        anns[int(rng.integers(len(anns)))]["id"] = odd_id
    order = rng.permutation(len(results))
    results = [results[i] for i in order]
    if with_bbox:
        for r in results:
            kp = np.array(r["keypoints"]).reshape(-1, 3)
            lo, hi = kp[:, :2].min(0), kp[:, :2].max(0)
            r["bbox"] = np.round([lo[0], lo[1], *(hi - lo + rng.uniform(0, 20, 2))], 2).tolist()
    cats = [{"id": c, "name": f"c{c}", "supercategory": "person", "keypoints": [f"k{i}" for i in range(k)],
             "skeleton": []} for c in categories]
    return {"images": images, "annotations": anns, "categories": cats}, results


def _person(rng, image_id, k, ann_id, categories) -> dict:
    size = float(np.exp(rng.uniform(np.log(12), np.log(300))))  # sqrt(area) across small..large
    centre = rng.uniform(0, 640, 2)
    xy = centre + rng.normal(0, size / 3, (k, 2))
    v = rng.choice([0, 1, 2], size=k, p=[.3, .2, .5])
    crowd = rng.random() < 0.06
    if crowd or rng.random() < 0.1:
        v[:] = 0
    xy[v == 0] = 0
    labelled = xy[v > 0]
    lo = labelled.min(0) if len(labelled) else centre - size / 2
    hi = labelled.max(0) if len(labelled) else centre + size / 2
    num_keypoints = int((v > 0).sum())
    if rng.random() < 0.05:
        num_keypoints = 0  # the field, not the flags, decides who is ignored
    return {"id": ann_id, "image_id": image_id, "category_id": int(rng.choice(categories)),
            "keypoints": np.round(np.c_[xy, v], 2).ravel().tolist(), "num_keypoints": num_keypoints,
            "bbox": np.round([lo[0], lo[1], *(hi - lo + 1)], 2).tolist(),
            "area": float(np.round(size * size * rng.uniform(0.4, 0.9), 2)), "iscrowd": int(crowd)}


def _results_for(rng, image_id, anns, k, categories) -> list[dict]:
    """Perturbed copies of the image's people (some twice, some missed) and false positives."""
    mine = [a for a in anns if a["image_id"] == image_id]
    out = []
    tied = rng.random() < 0.5  # scores from a few levels, so that ties must be broken as pycocotools does
    for a in mine:
        copies = rng.choice([0, 1, 2], p=[.2, .6, .2])
        gt = np.array(a["keypoints"]).reshape(-1, 3)
        size = np.sqrt(a["area"])
        for _ in range(copies):
            noise = 0.0 if rng.random() < 0.1 else rng.uniform(0.01, 0.3) * size
            xy = np.where(gt[:, 2:] > 0, gt[:, :2], rng.uniform(0, 640, (k, 2))) + rng.normal(0, noise + 1e-9, (k, 2))
            out.append(_entry(rng, image_id, xy, a["category_id"], tied, k))
    extra = int(rng.choice([0, 1, 3, 25], p=[.35, .3, .25, .1]))  # sometimes more than 20
    for _ in range(extra):
        centre, size = rng.uniform(0, 640, 2), rng.uniform(10, 200)
        cat = int(rng.choice(categories + (99,))) if rng.random() < 0.1 else int(rng.choice(categories))
        out.append(_entry(rng, image_id, centre + rng.normal(0, size / 3, (k, 2)), cat, tied, k))
    return out


def _entry(rng, image_id, xy, category_id, tied, k) -> dict:
    scores = rng.uniform(0, 1, k) * (rng.random(k) < 0.9) * (rng.random() > 0.05)  # some all zero
    score = float(rng.choice([0.3, 0.5, 0.9])) if tied else float(np.round(rng.uniform(0, 1), 6))
    return {"image_id": image_id, "category_id": category_id, "score": score,
            "keypoints": np.round(np.c_[xy, scores], 3).ravel().tolist()}


def pycocotools_stats(gt: dict, results: list[dict], sigmas=None) -> np.ndarray:
    """The live oracle: pycocotools' COCOeval(gt, dt, 'keypoints').stats, its printing silenced."""
    import contextlib
    import copy
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = copy.deepcopy(gt)  # pycocotools writes into what it is given
        coco.createIndex()
        if results:
            dets = coco.loadRes(copy.deepcopy(results))
        else:  # loadRes([]) raises IndexError; an empty detection set is what it would mean
            dets = COCO()
            dets.dataset = {"images": gt["images"], "categories": gt["categories"], "annotations": []}
            dets.createIndex()
        evaluator = COCOeval(coco, dets, "keypoints")
        if sigmas is not None:
            evaluator.params.kpt_oks_sigmas = np.asarray(sigmas, dtype=np.float64)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator.stats
