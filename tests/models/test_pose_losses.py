"""Smooth-OKS, the Gaussian OKS loss and the Laplace loss of ER-Pose (eq. 6-9)."""

import math

import pytest
import torch

from posekit.core.errors import ConfigError
from posekit.models.pose_losses import (KeypointSimilarityLoss, gaussian_similarity, laplace_similarity,
                                        normalised_error, sigmas_to_constants, smooth_oks_similarity)


def test_soks_hand_values():
    u = torch.tensor([0.0, 0.5, 1.0, 2.0, 4.0], dtype=torch.float64)
    expected = [1.0, math.exp(-0.125), math.exp(-0.5), math.exp(-1.5), math.exp(-3.5)]
    assert torch.allclose(smooth_oks_similarity(u), torch.tensor(expected, dtype=torch.float64))
    # Up to u = 1 SOKS is OKS itself; beyond, a Laplace tail e^(1/2) e^-u, heavier than the Gaussian.
    assert torch.equal(smooth_oks_similarity(u[:3]), gaussian_similarity(u[:3]))
    assert torch.all(smooth_oks_similarity(u[3:]) > gaussian_similarity(u[3:]))
    assert torch.allclose(smooth_oks_similarity(u[3:]), math.exp(0.5) * laplace_similarity(u[3:]))
    assert torch.allclose(laplace_similarity(u), torch.exp(-u))


def _slope(f, u: float) -> float:
    x = torch.tensor(u, dtype=torch.float64, requires_grad=True)
    f(x).backward()
    return x.grad.item()


def test_soks_value_and_slope_are_continuous_at_one():
    left, right = torch.tensor(1 - 1e-9, dtype=torch.float64), torch.tensor(1 + 1e-9, dtype=torch.float64)
    assert abs(smooth_oks_similarity(left) - smooth_oks_similarity(right)) < 1e-8
    slope_left, slope_right = _slope(smooth_oks_similarity, 1 - 1e-9), _slope(smooth_oks_similarity, 1 + 1e-9)
    assert slope_left == pytest.approx(-math.exp(-0.5), abs=1e-7)
    assert slope_right == pytest.approx(-math.exp(-0.5), abs=1e-7)
    # A Laplace tail without the e^(1/2) factor would jump in value and slope: the test can tell.
    assert abs(math.exp(-1.0) - math.exp(-0.5)) > 0.2


def test_soks_gradient_at_large_error_is_non_zero_and_bounded():
    for u, ratio in ((3.0, 2.0), (10.0, 1e15)):
        soks, gauss = _slope(smooth_oks_similarity, u), _slope(gaussian_similarity, u)
        assert soks == pytest.approx(-math.exp(0.5 - u))
        assert abs(soks) > ratio * abs(gauss)  # the Gaussian's pull fades as u e^(-u^2/2)
    assert abs(_slope(smooth_oks_similarity, 10.0)) > 1e-5
    grid = torch.linspace(0, 30, 3001, dtype=torch.float64, requires_grad=True)
    smooth_oks_similarity(grid).sum().backward()
    assert grid.grad.abs().max() <= math.exp(-0.5) + 1e-12  # the steepest point is u = 1
    assert torch.isfinite(grid.grad).all()


def test_normalised_error_is_d_over_s_k_and_has_zero_gradient_at_the_target():
    pred = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]], requires_grad=True)
    target = torch.zeros(1, 2, 2)
    u = normalised_error(pred, target, torch.tensor([25.0]), torch.tensor([0.5, 1.0]))
    assert torch.allclose(u, torch.tensor([[5.0 / (5 * 0.5), 0.0]]), atol=1e-5)
    u.sum().backward()
    assert torch.isfinite(pred.grad).all() and torch.all(pred.grad[0, 1] == 0)


@pytest.mark.parametrize("kind, similarity", [("soks", smooth_oks_similarity), ("oks", gaussian_similarity),
                                              ("laplace", laplace_similarity)])
def test_loss_averages_over_labelled_keypoints(kind, similarity):
    loss = KeypointSimilarityLoss([0.5, 0.5, 0.5], kind=kind)
    target = torch.zeros(2, 3, 2)
    pred = torch.tensor([[[1.0, 0.0], [4.0, 0.0], [100.0, 0.0]], [[0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]])
    visible = torch.tensor([[2, 1, 0], [0, 0, 0]])  # keypoint 2 unlabelled; person 1 has no labels
    areas = torch.tensor([4.0, 4.0])  # s = 2, s k = 1: u = d
    got = loss(pred, target, visible, areas)
    u = torch.tensor([1.0, 4.0])
    assert torch.allclose(got, torch.stack([1 - similarity(u).mean(), torch.tensor(0.0)]), atol=1e-6)
    assert loss(target, target, torch.ones(2, 3), areas).abs().max() < 1e-5


def test_gaussian_loss_is_one_minus_coco_oks():
    from posekit.core.geometry import oks

    g = torch.Generator().manual_seed(0)
    sigmas = torch.rand(5, generator=g) * 0.1 + 0.02
    pred, target = torch.rand(3, 5, 2, generator=g) * 20, torch.rand(3, 5, 2, generator=g) * 20
    visible, areas = torch.ones(3, 5), torch.tensor([50.0, 200.0, 400.0])
    loss = KeypointSimilarityLoss(sigmas_to_constants(sigmas.numpy()), kind="oks")(pred, target, visible, areas)
    coco = torch.tensor([oks(pred[i:i + 1].numpy(), target[i:i + 1].numpy(), visible[i:i + 1].numpy() > 0,
                             areas[i:i + 1].numpy(), sigmas.numpy())[0, 0] for i in range(3)], dtype=torch.float32)
    assert torch.allclose(loss, 1 - coco, atol=1e-5)


def test_soks_gives_far_keypoints_a_stronger_pull_than_oks():
    target = torch.zeros(1, 1, 2)
    grads = {}
    for kind in ("soks", "oks"):
        pred = torch.tensor([[[6.0, 0.0]]], requires_grad=True)  # u = 6
        KeypointSimilarityLoss([0.5], kind=kind)(pred, target, torch.ones(1, 1), torch.tensor([4.0])).sum().backward()
        grads[kind] = pred.grad[0, 0, 0].item()
    assert grads["soks"] > 100 * grads["oks"] > 0  # both pull towards the target (positive x gradient)


def test_unknown_kind_and_missing_constants_are_config_errors():
    with pytest.raises(ConfigError, match="unknown keypoint loss"):
        KeypointSimilarityLoss([0.1], kind="huber")
    assert sigmas_to_constants(None, 4).tolist() == [0.25] * 4
    assert sigmas_to_constants([0.025, 0.1]).tolist() == pytest.approx([0.05, 0.2])
    with pytest.raises(ConfigError):
        sigmas_to_constants(None)
