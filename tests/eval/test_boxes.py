import contextlib
import io

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.eval.boxes import box_ap


def _pycocotools_box_ap(gts, dets, scores):
    images = [{"id": i + 1} for i in range(len(gts))]
    anns, res = [], []
    for i, g in enumerate(gts):
        for b in g:
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": 1, "bbox": [b[0], b[1], w, h],
                         "area": w * h, "iscrowd": 0})
    for i, (d, s) in enumerate(zip(dets, scores)):
        for b, sc in zip(d, s):
            res.append({"image_id": i + 1, "category_id": 1, "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                        "score": float(sc)})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": 1, "name": "person"}]}
        gt.createIndex()
        dt = gt.loadRes(res)
        ev = COCOeval(gt, dt, "bbox")
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats[0], ev.stats[1]


@pytest.mark.parametrize("seed", range(6))
def test_box_ap_matches_pycocotools_all_area(seed):
    rng = np.random.default_rng(seed)
    gts, dets, scores = [], [], []
    for _ in range(rng.integers(3, 8)):
        g = rng.uniform(0, 300, (rng.integers(0, 5), 2))
        g = np.concatenate([g, g + rng.uniform(20, 120, g.shape)], 1)
        d = g + rng.normal(0, 8, g.shape)
        fp = rng.uniform(0, 300, (rng.integers(0, 4), 2))
        d = np.concatenate([d, np.concatenate([fp, fp + 40], 1)])
        gts.append(g)
        dets.append(d)
        scores.append(rng.uniform(0, 1, len(d)))
    ours = box_ap(gts, dets, scores)
    ap, ap50 = _pycocotools_box_ap(gts, dets, scores)
    assert ours["AP"] == pytest.approx(ap, abs=1e-9)
    assert ours["AP50"] == pytest.approx(ap50, abs=1e-9)


def test_box_ap_perfect_and_empty():
    g = [np.array([[0, 0, 10, 10], [20, 20, 40, 50.0]])]
    assert box_ap(g, g, [np.array([0.9, 0.8])])["AP"] == pytest.approx(1.0)
    assert box_ap(g, [np.zeros((0, 4))], [np.zeros(0)])["AP"] == 0.0
