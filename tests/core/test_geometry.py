"""Box and OKS maths: OKS against pycocotools' COCOeval.computeOks, boxes by hand."""

import contextlib
import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from posekit.core.geometry import box_area, box_iou, keypoint_boxes, oks, xywh_to_xyxy, xyxy_to_xywh
from posekit.core.skeleton import SKELETONS


def coco_oks(pred, gt, gt_visible, areas):
    """pycocotools' OKS matrix (N, M) for one image, from COCO objects built in memory."""
    n, m, k = len(pred), len(gt), gt.shape[1]
    gt_flat = np.concatenate([gt, 2.0 * gt_visible[..., None]], -1).reshape(m, 3 * k)
    pred_flat = np.concatenate([pred, np.ones((n, k, 1))], -1).reshape(n, 3 * k)
    gt_coco = COCO()
    gt_coco.dataset = {
        "images": [{"id": 1, "width": 640, "height": 480}],
        "categories": [SKELETONS["coco"].coco_category()],
        "annotations": [{"id": j + 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "area": float(areas[j]),
                         "bbox": [0.0, 0.0, 10.0, 10.0], "num_keypoints": int(gt_visible[j].sum()),
                         "keypoints": gt_flat[j].tolist()} for j in range(m)],
    }
    with contextlib.redirect_stdout(io.StringIO()):
        gt_coco.createIndex()
        # descending scores keep the prediction order through computeOks' sort
        dt_coco = gt_coco.loadRes([{"image_id": 1, "category_id": 1, "score": 1.0 - i / (n + 1),
                                    "keypoints": pred_flat[i].tolist()} for i in range(n)])
    evaluator = COCOeval(gt_coco, dt_coco, "keypoints")
    evaluator.params.imgIds = [1]
    evaluator._prepare()
    return np.asarray(evaluator.computeOks(1, 1)), evaluator.params.kpt_oks_sigmas


@settings(max_examples=40)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_oks_matches_pycocotools(n, m, seed):
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 400, (m, 17, 2))
    pred = gt[rng.integers(0, m, n)] + rng.normal(0, rng.uniform(0.5, 30), (n, 17, 2))
    visible = rng.random((m, 17)) < 0.7
    visible[:, 0] = True  # pycocotools scores GTs without labelled keypoints differently (box distance)
    areas = rng.uniform(100, 40000, m)
    expected, sigmas = coco_oks(pred, gt, visible, areas)
    np.testing.assert_allclose(oks(pred, gt, visible, areas, sigmas), expected, rtol=0, atol=1e-12)


def test_coco_sigmas_equal_pycocotools_sigmas():
    _, sigmas = coco_oks(np.zeros((1, 17, 2)), np.zeros((1, 17, 2)), np.ones((1, 17), bool), np.ones(1))
    np.testing.assert_allclose(SKELETONS["coco"].sigmas_array, sigmas, rtol=1e-15)


def test_oks_hand_cases():
    sigmas = SKELETONS["coco"].sigmas_array
    gt = np.random.default_rng(0).uniform(0, 100, (2, 17, 2))
    visible = np.ones((2, 17), bool)
    visible[1] = False
    result = oks(gt[:1], gt, visible, np.array([900.0, 900.0]), sigmas)
    assert result.shape == (1, 2)
    assert result[0, 0] == pytest.approx(1.0)   # perfect prediction
    assert result[0, 1] == 0.0                  # a GT with no labelled keypoint scores 0
    one_off = gt[:1].copy()
    one_off[0, 5] += [3.0, 4.0]                 # one shoulder 5 px off
    e = 25.0 / (2 * sigmas[5]) ** 2 / (900.0 + np.spacing(1)) / 2
    result = oks(one_off, gt[:1], visible[:1], np.array([900.0]), sigmas)
    assert result[0, 0] == pytest.approx((16 + np.exp(-e)) / 17)
    assert oks(np.zeros((0, 17, 2)), gt, visible, np.ones(2), sigmas).shape == (0, 2)


def test_box_iou_hand_cases():
    a = np.array([[0.0, 0.0, 10.0, 10.0], [0.0, 0.0, 0.0, 5.0]])
    b = np.array([[0.0, 0.0, 10.0, 10.0], [5.0, 0.0, 15.0, 10.0], [20.0, 20.0, 30.0, 30.0],
                  [2.0, 2.0, 4.0, 4.0]])
    iou = box_iou(a, b)
    np.testing.assert_allclose(iou[0], [1.0, 50 / 150, 0.0, 4 / 100])
    np.testing.assert_array_equal(iou[1], [0.0, 0.0, 0.0, 0.0])  # a degenerate box overlaps nothing
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 4)
    np.testing.assert_array_equal(box_iou(a[1:], a[1:]), [[0.0]])  # 0/0 is 0, not NaN


def test_box_conversions_and_area():
    xywh = np.array([[1.0, 2.0, 3.0, 4.0], [10.0, 0.0, 0.0, 5.0]])
    xyxy = xywh_to_xyxy(xywh)
    np.testing.assert_array_equal(xyxy, [[1, 2, 4, 6], [10, 0, 10, 5]])
    np.testing.assert_array_equal(xyxy_to_xywh(xyxy), xywh)
    np.testing.assert_array_equal(box_area(xyxy), [12.0, 0.0])
    np.testing.assert_array_equal(box_area(np.array([[5.0, 5.0, 1.0, 9.0]])), [0.0])  # inverted: clipped


def test_keypoint_boxes():
    kpts = np.array([[[1.0, 5.0], [4.0, 2.0], [100.0, 100.0]],
                     [[7.0, 7.0], [8.0, 9.0], [3.0, 3.0]]])
    np.testing.assert_array_equal(keypoint_boxes(kpts), [[1, 2, 100, 100], [3, 3, 8, 9]])
    visible = np.array([[True, True, False], [False, False, False]])
    np.testing.assert_array_equal(keypoint_boxes(kpts, visible), [[1, 2, 4, 5], [0, 0, 0, 0]])
