"""The shortcuts of evaluation give exactly what the plain ways give: ground truth read in bulk, the
bound that skips far (result, GT) pairs, greedy matching's tie rules, and precision taken from the
true positives alone."""

import json

import numpy as np
import pytest

from posekit.core.errors import InputError
from posekit.eval import evaluate, inputs, load_ground_truth
from posekit.eval.cocoeval import (COCO_SIGMAS, COCO_STATS, RECALL_THRESHOLDS, _precision_recall,
                                   oks_surely_below, pair_oks_values)

from eval_cases import pycocotools_stats, random_case


def assert_same_ground_truth(got, want, message=""):
    for name in want.__dataclass_fields__:
        a, b = getattr(got, name), getattr(want, name)
        assert a.dtype == b.dtype and a.shape == b.shape, f"{message} {name}"
        np.testing.assert_array_equal(a, b, err_msg=f"{message} {name}")


def some_ground_truth(seed=0, **options) -> dict:
    gt, _ = random_case(np.random.default_rng(seed), num_images=6, **options)
    return gt


def layouts(gt: dict) -> dict[str, str]:
    no_area = dict(gt, annotations=[{k: v for k, v in a.items() if k != "area" or i % 2}
                                    for i, a in enumerate(gt["annotations"])])
    no_count = dict(gt, annotations=[{k: v for k, v in a.items() if k != "num_keypoints" or i % 3}
                                     for i, a in enumerate(gt["annotations"])])
    odd_names = dict(gt, categories=[dict(c, keypoints=[f"k]{i}\"" for i in range(len(c["keypoints"]))])
                                     for c in gt["categories"]])
    return {"compact": json.dumps(gt), "indented": json.dumps(gt, indent=2),
            "tight": json.dumps(gt, separators=(",", ":")), "windows": json.dumps(gt, indent=1).replace("\n", "\r\n"),
            "categories_first": json.dumps({"categories": gt["categories"], **gt}),
            "reordered": json.dumps(dict(gt, annotations=[dict(reversed(list(a.items()))) for a in gt["annotations"]])),
            "area_missing": json.dumps(no_area), "num_keypoints_missing": json.dumps(no_count),
            "names_with_brackets": json.dumps(odd_names)}


@pytest.mark.parametrize("options", [{}, {"num_keypoints": 14, "crowd_index": True}, {"categories": (1, 3)}])
def test_ground_truth_read_in_bulk_equals_plain_json(tmp_path, options):
    gt = some_ground_truth(1, **options)
    for name, text in layouts(gt).items():
        path = tmp_path / f"{name}.json"
        path.write_text(text)
        assert inputs._read_ground_truth_file(path) is not None, f"{name} was not read in bulk"
        assert_same_ground_truth(load_ground_truth(path), load_ground_truth(json.loads(text)), name)


def test_unusual_ground_truth_files_are_read_the_plain_way(tmp_path):
    gt = some_ground_truth(2)
    anns = gt["annotations"]
    unusual = {
        "nested_keypoints": dict(gt, annotations=[dict(a, extra={"keypoints": [1, 2]}) for a in anns]),
        "keypoints_word_elsewhere": dict(gt, info={"description": "keypoints"}),
        "float_image_ids": dict(gt, images=[dict(im, id=float(im["id"])) for im in gt["images"]]),
        "string_area": dict(gt, annotations=[dict(a, area=str(a["area"])) for a in anns]),
        "bool_count": dict(gt, annotations=[dict(a, num_keypoints=bool(a["num_keypoints"])) for a in anns]),
    }
    for name, data in unusual.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(data))
        assert inputs._read_ground_truth_file(path) is None, f"{name} was read in bulk"
        assert_same_ground_truth(load_ground_truth(path), load_ground_truth(data), name)


def _break(gt, index, **fields):
    anns = [dict(a, **fields) if i == index else a for i, a in enumerate(gt["annotations"])]
    return dict(gt, annotations=anns)


BAD_GT = {
    "keypoint_count": lambda gt: _break(gt, 2, keypoints=[1.0] * 42),
    "no_bbox": lambda gt: dict(gt, annotations=[{k: v for k, v in a.items() if k != "bbox"} if i == 1 else a
                                                for i, a in enumerate(gt["annotations"])]),
    "short_bbox": lambda gt: _break(gt, 1, bbox=[1, 2, 3]),
    "unknown_image": lambda gt: _break(gt, 3, image_id=10 ** 6),
    "repeated_image": lambda gt: dict(gt, images=gt["images"] + gt["images"][:1]),
    "nan_keypoint": lambda gt: _break(gt, 0, keypoints=[float("nan")] * 51),
    "text_keypoint": lambda gt: _break(gt, 0, keypoints=["x"] * 51),
    "negative_area": lambda gt: _break(gt, 2, area=-1.0),
    "negative_box": lambda gt: _break(gt, 2, bbox=[0, 0, -1, 5]),
    "no_category_id": lambda gt: dict(gt, annotations=[{k: v for k, v in a.items() if k != "category_id"}
                                                       for a in gt["annotations"]]),
    "no_categories": lambda gt: dict(gt, categories=[]),
}


@pytest.mark.parametrize("case", list(BAD_GT))
def test_bad_ground_truth_files_give_the_plain_errors(tmp_path, case):
    data = BAD_GT[case](some_ground_truth(3))
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InputError) as from_file:
        load_ground_truth(path)
    with pytest.raises(InputError) as from_dict:
        load_ground_truth(data)
    assert str(from_file.value).startswith(f"{path}: ") and str(from_dict.value).startswith("GT: ")
    assert str(from_file.value).split(": ", 1)[1] == str(from_dict.value).split(": ", 1)[1]


def test_oks_bound_never_rules_out_a_pair_that_reaches_the_threshold():
    rng = np.random.default_rng(0)
    k, g, d = 17, 300, 400
    sigmas = np.array(COCO_SIGMAS)
    centre, size = rng.uniform(0, 300, (g, 2)), rng.uniform(2, 120, g)
    xy = centre[:, None] + rng.normal(0, 1, (g, k, 2)) * size[:, None, None] / 4
    v = rng.choice([0, 1, 2], (g, k), p=[.3, .2, .5])
    v[: g // 8] = 0  # people without labelled keypoints: OKS against their grown box
    gt_kpts = np.concatenate([xy, v[..., None]], -1)
    gt_boxes = np.c_[centre - size[:, None] / 2, size, size * rng.uniform(0.5, 2, g)]
    area = size ** 2 * rng.uniform(0.3, 1, g)
    area[:4] = 0
    source = rng.integers(0, g, d)  # results near a GT, at every distance, and stray ones
    noise = rng.choice([0.0, 0.02, 0.1, 0.3, 1, 3], d)[:, None, None] * size[source, None, None]
    det_xy = np.where(rng.random(d)[:, None, None] < 0.9, xy[source] + rng.normal(0, 1, (d, k, 2)) * noise,
                      rng.uniform(0, 300, (d, k, 2)))
    det_kpts = np.concatenate([det_xy, rng.random((d, k, 1))], -1)
    pair_det, pair_gt = np.repeat(np.arange(d), g), np.tile(np.arange(g), d)
    oks = pair_oks_values(det_kpts, gt_kpts, gt_boxes, area, sigmas, pair_det, pair_gt)
    assert ((oks >= 0.5) & (oks < 0.52)).any() and (oks[np.isin(pair_gt, np.arange(g // 8))] >= 0.5).any()
    for threshold in (0.5, 0.75, 0.95):
        below = oks_surely_below(det_kpts, gt_kpts, gt_boxes, area, sigmas, pair_det, pair_gt, threshold)
        assert not (below & (oks >= threshold)).any(), threshold
        assert below.mean() > 0.5  # and it does skip most far pairs


def _person(xy, person_id, num_keypoints=None):
    k = len(xy)
    return {"id": person_id, "image_id": 1, "category_id": 1, "iscrowd": 0,
            "keypoints": np.c_[xy, np.full(k, 2)].ravel().tolist(),
            "num_keypoints": k if num_keypoints is None else num_keypoints,
            "bbox": [*xy.min(0).tolist(), *(xy.max(0) - xy.min(0)).tolist()], "area": 6000.0}


@pytest.mark.parametrize("ids", [(0, 7), (7, 0), (5, 6)])
@pytest.mark.parametrize("first_ignored", [False, True])
def test_equal_oks_ties_go_as_in_pycocotools(ids, first_ignored):
    """Two GT copies of one person: a result on them matches the later one unless it is ignored,
    which a GT id of 0 (pycocotools' "no match") makes visible in the statistics."""
    xy = np.c_[np.linspace(100, 180, 17), np.linspace(50, 250, 17)]
    gt = {"images": [{"id": 1}], "categories": [{"id": 1, "name": "person"}],
          "annotations": [_person(xy, ids[0], 0 if first_ignored else None), _person(xy, ids[1]),
                          _person(xy + 300, 9)]}
    results = [{"image_id": 1, "category_id": 1, "keypoints": np.c_[xy, np.ones(17)].ravel().tolist(), "score": s}
               for s in (0.9, 0.8)] + [{"image_id": 1, "category_id": 1, "score": 0.7,
                                        "keypoints": np.c_[xy + 301, np.ones(17)].ravel().tolist()}]
    got = evaluate(gt, results)
    np.testing.assert_allclose([got.stats[name] for name, *_ in COCO_STATS], pycocotools_stats(gt, results),
                               rtol=0, atol=1e-12)


def _dense_precision_recall(tp, fp, regular):
    """pycocotools' accumulate for one category, area range and threshold, as it is written."""
    tp_sum, fp_sum = np.cumsum(tp).astype(float), np.cumsum(fp).astype(float)
    rc, pr = tp_sum / regular, tp_sum / (fp_sum + tp_sum + np.spacing(1))
    q, pr = np.zeros(len(RECALL_THRESHOLDS)), pr.tolist()
    for i in range(len(tp) - 1, 0, -1):
        if pr[i] > pr[i - 1]:
            pr[i - 1] = pr[i]
    try:
        for ri, pi in enumerate(np.searchsorted(rc, RECALL_THRESHOLDS, side="left")):
            q[ri] = pr[pi]
    except IndexError:
        pass
    return q, (rc[-1] if len(tp) else 0)


def test_precision_from_the_true_positives_equals_pycocotools_accumulate():
    rng = np.random.default_rng(4)
    rows = [(np.zeros(0, bool), np.zeros(0, bool)), (np.zeros(5, bool), np.zeros(5, bool)),
            (np.zeros(6, bool), np.ones(6, bool)), (np.ones(4, bool), np.zeros(4, bool))]
    for _ in range(300):
        n = int(rng.integers(1, 200))
        kind = rng.choice(3, n, p=rng.dirichlet([1, 1, 0.3]))  # 0 tp, 1 fp, 2 neither (ignored)
        rows.append((kind == 0, kind == 1))
    for tp, fp in rows:
        regular = int(tp.sum() + rng.integers(1, 20))
        q, recall = _precision_recall(tp, fp, regular)
        want_q, want_recall = _dense_precision_recall(tp, fp, regular)
        np.testing.assert_array_equal(q, want_q)
        assert recall == want_recall
