"""Box ops and NMS in torch: IoU/GIoU on hand cases and against the numpy oracle in posekit.core,
NMS and OKS-NMS against naive one-box-at-a-time greedy loops."""

import numpy as np
import pytest
import torch

from posekit.core.errors import InputError
from posekit.core.geometry import box_iou as numpy_box_iou
from posekit.core.geometry import oks as numpy_oks
from posekit.core.skeleton import SKELETONS
from posekit.nn.ops import (batched_nms, box_iou, box_to_distance, distance_to_box, giou, keypoint_oks, nms,
                            oks_nms)


def random_boxes(rng, n, size=100.0, max_wh=40.0):
    xy = rng.uniform(0, size, (n, 2))
    wh = rng.uniform(2, max_wh, (n, 2))
    return torch.tensor(np.concatenate([xy, xy + wh], 1), dtype=torch.float32)


def naive_nms(boxes, scores, thr):
    """The textbook loop: take the best remaining box, drop everything overlapping it (numpy IoU)."""
    iou = numpy_box_iou(boxes.double().numpy(), boxes.double().numpy())
    order = list(np.argsort(-scores.numpy(), kind="stable"))
    keep = []
    while order:
        best, order = order[0], order[1:]
        keep.append(int(best))
        order = [i for i in order if iou[best, i] <= thr]
    return keep


# --------------------------------------------------------------------------- IoU / GIoU

@pytest.mark.parametrize("a, b, expected_iou, expected_giou", [
    ([0, 0, 2, 2], [0, 0, 2, 2], 1.0, 1.0),                  # identical
    ([0, 0, 2, 2], [1, 0, 3, 2], 1 / 3, 1 / 3),              # half overlap: inter 2, union 6, hull 6
    ([0, 0, 1, 1], [2, 0, 3, 1], 0.0, -1 / 3),               # disjoint: hull 3, union 2
    ([0, 0, 4, 4], [1, 1, 3, 3], 0.25, 0.25),                # nested: hull == union
    ([0, 0, 1, 1], [9, 9, 10, 10], 0.0, 2 / 100 - 1),        # far apart: GIoU -> -1
])
def test_iou_and_giou_on_hand_cases(a, b, expected_iou, expected_giou):
    a, b = torch.tensor([a], dtype=torch.float32), torch.tensor([b], dtype=torch.float32)
    assert box_iou(a, b).item() == pytest.approx(expected_iou, abs=1e-6)
    assert giou(a, b).item() == pytest.approx(expected_giou, abs=1e-6)
    assert giou(a[0], b[0], aligned=True).item() == pytest.approx(expected_giou, abs=1e-6)


def test_box_iou_matches_numpy_oracle_and_broadcasts_over_batches(rng):
    a, b = random_boxes(rng, 7), random_boxes(rng, 5)
    np.testing.assert_allclose(box_iou(a, b).numpy(), numpy_box_iou(a.double().numpy(), b.double().numpy()),
                               atol=1e-6)
    batched = box_iou(torch.stack([a, a.flip(0)]), torch.stack([b, b]))  # (2, 7, 5)
    assert batched.shape == (2, 7, 5)
    torch.testing.assert_close(batched[1], box_iou(a.flip(0), b))
    aligned = giou(a[:5], b, aligned=True)
    torch.testing.assert_close(aligned, torch.diagonal(giou(a[:5], b)))


def test_distance_box_round_trip():
    points = torch.tensor([[10.0, 20.0], [0.0, 0.0]])
    distances = torch.tensor([[1.0, 2.0, 3.0, 4.0], [5.0, 5.0, 5.0, 5.0]])
    boxes = distance_to_box(points, distances)
    assert boxes.tolist() == [[9.0, 18.0, 13.0, 24.0], [-5.0, -5.0, 5.0, 5.0]]
    torch.testing.assert_close(box_to_distance(points, boxes), distances)


# --------------------------------------------------------------------------- NMS

@pytest.mark.parametrize("seed, thr", [(0, 0.3), (1, 0.5), (2, 0.7), (3, 0.1)])
def test_nms_keeps_exactly_what_naive_greedy_keeps(seed, thr):
    rng = np.random.default_rng(seed)
    boxes = random_boxes(rng, 120)  # dense: long suppression chains
    scores = torch.tensor(rng.uniform(0, 1, 120), dtype=torch.float32)
    kept = nms(boxes, scores, thr)
    assert kept.tolist() == naive_nms(boxes, scores, thr)
    assert 1 < len(kept) < 120
    assert nms(boxes, scores, thr, max_det=5).tolist() == kept[:5].tolist()


def test_nms_chain_where_suppressed_box_does_not_suppress():
    # A overlaps B, B overlaps C, A does not overlap C: greedy keeps A and C ("fast NMS" would drop C).
    boxes = torch.tensor([[0, 0, 10, 10], [6, 0, 16, 10], [12, 0, 22, 10]], dtype=torch.float32)
    scores = torch.tensor([0.9, 0.8, 0.7])
    assert nms(boxes, scores, 0.2).tolist() == [0, 2]


def test_nms_on_nothing_and_bad_shapes():
    assert nms(torch.zeros(0, 4), torch.zeros(0), 0.5).numel() == 0
    assert batched_nms(torch.zeros(0, 4), torch.zeros(0), torch.zeros(0, dtype=torch.long), 0.5).numel() == 0
    with pytest.raises(InputError, match="shape"):
        nms(torch.zeros(3, 5), torch.zeros(3), 0.5)
    with pytest.raises(InputError, match="score"):
        nms(torch.zeros(3, 4), torch.zeros(2), 0.5)


def test_batched_nms_never_suppresses_across_groups(rng):
    box = torch.tensor([[10.0, 10.0, 50.0, 50.0]])
    boxes = box.repeat(4, 1)
    scores = torch.tensor([0.9, 0.8, 0.7, 0.6])
    groups = torch.tensor([0, 1, 0, 1])
    assert batched_nms(boxes, scores, groups, 0.5).tolist() == [0, 1]

    boxes, scores = random_boxes(rng, 80), torch.tensor(rng.uniform(0, 1, 80), dtype=torch.float32)
    groups = torch.tensor(rng.integers(0, 3, 80))
    expected = []
    for g in range(3):
        members = torch.nonzero(groups == g).flatten()
        expected += members[naive_nms(boxes[members], scores[members], 0.4)].tolist()
    kept = batched_nms(boxes, scores, groups, 0.4)
    assert sorted(kept.tolist()) == sorted(expected)
    assert torch.all(scores[kept][:-1] >= scores[kept][1:])  # best first


# --------------------------------------------------------------------------- OKS-NMS

def test_keypoint_oks_matches_coco_oks_for_equal_areas(rng):
    sigmas = torch.tensor(SKELETONS["coco"].sigmas, dtype=torch.float64)
    kpts = torch.tensor(rng.uniform(0, 50, (4, 17, 2)))
    areas = torch.full((4,), 900.0, dtype=torch.float64)
    expected = numpy_oks(kpts.numpy(), kpts.numpy(), np.ones((4, 17), bool), areas.numpy(), sigmas.numpy())
    np.testing.assert_allclose(keypoint_oks(kpts, areas, sigmas).numpy(), expected, rtol=1e-9)


def naive_oks_nms(kpts, scores, areas, sigmas, thr):
    """MMPose's oks_nms loop, transcribed: keep the best, drop every pose with OKS > thr to it."""
    variances = (2 * sigmas) ** 2
    order = list(np.argsort(-scores, kind="stable"))
    keep = []
    while order:
        i, rest = order[0], order[1:]
        keep.append(i)
        survivors = []
        for j in rest:
            d2 = ((kpts[i] - kpts[j]) ** 2).sum(-1)
            e = d2 / variances / ((areas[i] + areas[j]) / 2 + np.spacing(1)) / 2
            if np.exp(-e).mean() <= thr:
                survivors.append(j)
        order = survivors
    return keep


def test_oks_nms_matches_naive_loop(rng):
    sigmas = np.asarray(SKELETONS["coco"].sigmas)
    base = rng.uniform(0, 100, (6, 17, 2))
    kpts = np.concatenate([base + rng.normal(0, 3, base.shape) for _ in range(5)])  # 30 poses, 6 clusters
    scores, areas = rng.uniform(0, 1, 30), rng.uniform(500, 3000, 30)
    kept = oks_nms(torch.tensor(kpts), torch.tensor(scores), torch.tensor(areas), torch.tensor(sigmas), 0.5)
    expected = naive_oks_nms(kpts, scores, areas, sigmas, 0.5)
    assert kept.tolist() == expected
    assert 6 <= len(kept) < 30


def test_oks_nms_visibility_threshold_counts_only_confident_keypoints():
    sigmas = torch.full((3,), 0.1, dtype=torch.float64)
    a = torch.tensor([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]], dtype=torch.float64)
    b = a.clone()
    b[2] += 50.0  # only the last keypoint differs
    kpts, areas, scores = torch.stack([a, b]), torch.tensor([100.0, 100.0]), torch.tensor([0.9, 0.8])
    assert oks_nms(kpts, scores, areas, sigmas, 0.9).tolist() == [0, 1]  # OKS = 2/3 with all keypoints
    confident = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]])
    assert oks_nms(kpts, scores, areas, sigmas, 0.9, confident, vis_thr=0.5).tolist() == [0]
    with pytest.raises(InputError, match="keypoint_scores"):
        oks_nms(kpts, scores, areas, sigmas, 0.9, vis_thr=0.5)
