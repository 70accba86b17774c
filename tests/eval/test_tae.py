"""Task Alignment Error (ER-Pose eq. 4-5) on hand-built cases."""

import math

import numpy as np
import pytest

from posekit.core.errors import InputError
from posekit.core.geometry import oks
from posekit.eval.tae import image_alignment, task_alignment_error

K = 2
SIGMAS = np.array([0.5, 0.5])  # k = 1 ... with area 1: OKS term exp(-d^2 / 2)
AREAS = np.array([1.0, 1.0])
GT = np.array([[[0.0, 0.0], [0.0, 1.0]], [[10.0, 0.0], [10.0, 1.0]]])
VISIBLE = np.array([[2, 2], [2, 1]])


def pose(dx: float, person: int = 0) -> np.ndarray:
    return GT[person] + np.array([dx, 0.0])


def test_optimal_versus_selected_hand_case():
    # Candidates: 0 exact on person 0, 1 off by 1 on person 0, 2 exact on person 1, 3 off by 2 on person 1.
    candidates = np.stack([pose(0.0), pose(1.0), pose(0.0, 1), pose(2.0, 1)])
    # The model keeps 1 and 3: each person loses OKS 1 - exp(-d^2 / 2).
    result = image_alignment(candidates, [3, 1], GT, VISIBLE, AREAS, SIGMAS)
    np.testing.assert_array_equal(result.optimal_index, [0, 2])
    np.testing.assert_array_equal(result.selected_index, [1, 3])
    np.testing.assert_allclose(result.optimal_oks, [1.0, 1.0])
    np.testing.assert_allclose(result.selected_oks, [math.exp(-0.5), math.exp(-2.0)])
    expected = ((1 - math.exp(-0.5)) + (1 - math.exp(-2.0))) / 2
    assert task_alignment_error([result]) == pytest.approx(expected)
    # Selecting the optimal cells gives 0; a bool mask works as well as indices.
    perfect = image_alignment(candidates, np.array([True, False, True, False]), GT, VISIBLE, AREAS, SIGMAS)
    assert task_alignment_error([perfect]) == 0.0


def test_matching_is_one_to_one_and_globally_optimal():
    # People at x = 0 and x = 2; candidate 0 at x = 0.6 is the best for both, candidate 1 at x = -0.7
    # is nearly as good for person 0 and useless for person 1. Greedy (person 0 first) would score
    # 0.835 + 0.026; the optimum gives candidate 1 to person 0 and candidate 0 to person 1.
    gt = np.stack([pose(0.0), pose(2.0)])
    candidates = np.stack([pose(0.6), pose(-0.7)])
    result = image_alignment(candidates, [0, 1], gt, VISIBLE, AREAS, SIGMAS)
    np.testing.assert_array_equal(result.optimal_index, [1, 0])
    np.testing.assert_allclose(result.optimal_oks, [math.exp(-0.7 ** 2 / 2), math.exp(-1.4 ** 2 / 2)])
    assert result.optimal_oks.sum() > math.exp(-0.6 ** 2 / 2) + math.exp(-2.7 ** 2 / 2)  # beats greedy
    assert task_alignment_error([result]) == pytest.approx(0.0)  # both kept: the selection is optimal too
    only_first = image_alignment(candidates, [0], gt, VISIBLE, AREAS, SIGMAS)
    np.testing.assert_array_equal(only_first.selected_index, [0, -1])  # candidate 0 goes where it is worth most
    assert task_alignment_error([only_first]) == pytest.approx(
        (result.optimal_oks[0] - math.exp(-0.6 ** 2 / 2) + result.optimal_oks[1]) / 2)


def test_people_without_a_selection_score_zero_and_unlabelled_people_are_not_counted():
    candidates = np.stack([pose(0.0), pose(0.0, 1)])
    result = image_alignment(candidates, [0], GT, VISIBLE, AREAS, SIGMAS)  # person 1 gets nothing
    np.testing.assert_array_equal(result.selected_index, [0, -1])
    assert task_alignment_error([result]) == pytest.approx(0.5)
    nothing = image_alignment(candidates, [], GT, VISIBLE, AREAS, SIGMAS)
    assert task_alignment_error([nothing]) == pytest.approx(1.0)
    unlabelled = image_alignment(candidates, [0], GT, np.array([[2, 2], [0, 0]]), AREAS, SIGMAS)
    assert unlabelled.labelled.tolist() == [True, False] and task_alignment_error([unlabelled]) == 0.0


def test_tae_pools_people_over_images_and_matches_coco_oks():
    rng = np.random.default_rng(0)
    candidates = GT[0] + rng.normal(scale=0.7, size=(6, K, 2))
    one = image_alignment(candidates, [5], GT[:1], VISIBLE[:1], AREAS[:1], SIGMAS)
    all_oks = oks(candidates, GT[:1], VISIBLE[:1] > 0, AREAS[:1], SIGMAS)[:, 0]
    assert one.optimal_oks[0] == pytest.approx(all_oks.max()) and one.selected_oks[0] == pytest.approx(all_oks[5])
    two = image_alignment(np.stack([pose(0.0), pose(0.0, 1)]), [0, 1], GT, VISIBLE, AREAS, SIGMAS)  # error 0, 0
    assert task_alignment_error([one, two]) == pytest.approx((all_oks.max() - all_oks[5]) / 3)
    assert task_alignment_error([]) == 0.0


def test_bad_inputs_are_input_errors():
    with pytest.raises(InputError, match="candidates"):
        image_alignment(np.zeros((3, 4)), [0], GT, VISIBLE, AREAS, SIGMAS)
    with pytest.raises(InputError, match="selected"):
        image_alignment(np.zeros((3, K, 2)), [3], GT, VISIBLE, AREAS, SIGMAS)
    with pytest.raises(InputError, match="mask"):
        image_alignment(np.zeros((3, K, 2)), np.array([True, False]), GT, VISIBLE, AREAS, SIGMAS)
