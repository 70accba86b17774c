"""SimCC codec, flip-back and KLDiscretLoss against per-keypoint reference loops written from mmpose's
description (SimCCLabel, get_simcc_maximum, flip_vectors, KLDiscretLoss)."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from posekit.core.errors import InputError
from posekit.core.skeleton import get_skeleton
from posekit.models.codecs import SimCCCodec, flip_simcc
from posekit.models.losses import KLDiscretLoss

RTMPOSE_CODEC = dict(input_size=(256, 192), sigma=(4.9, 5.66), split_ratio=2.0, normalize=False)


def reference_encode(keypoints, weights, input_size, sigma, split, normalize):
    """One keypoint at a time, as mmpose's SimCCLabel._generate_gaussian loops."""
    n, k, _ = keypoints.shape
    width, height = round(input_size[1] * split), round(input_size[0] * split)
    tx, ty = np.zeros((n, k, width)), np.zeros((n, k, height))
    out_w = weights.copy()
    sigma = np.asarray(sigma)
    for i in range(n):
        for j in range(k):
            if weights[i, j] <= 0:
                out_w[i, j] = 0
                continue
            mu = np.around(keypoints[i, j] * split)
            left, top = mu - 3 * sigma
            right, bottom = mu + 3 * sigma + 1
            if left >= width or top >= height or right < 0 or bottom < 0:
                out_w[i, j] = 0
                continue
            tx[i, j] = np.exp(-((np.arange(width) - mu[0]) ** 2) / (2 * sigma[0] ** 2))
            ty[i, j] = np.exp(-((np.arange(height) - mu[1]) ** 2) / (2 * sigma[1] ** 2))
    if normalize:
        tx, ty = tx / (sigma[0] * math.sqrt(2 * math.pi)), ty / (sigma[1] * math.sqrt(2 * math.pi))
    return tx, ty, out_w


@pytest.mark.parametrize("normalize", [False, True])
def test_encode_matches_the_per_keypoint_reference(rng, normalize):
    keypoints = rng.uniform(-40, 240, size=(6, 17, 2))  # many outside the 192 x 256 crop
    weights = (rng.uniform(size=(6, 17)) > 0.2).astype(np.float64)
    codec = SimCCCodec((256, 192), (4.9, 5.66), 2.0, normalize)
    tx, ty, w = codec.encode(torch.tensor(keypoints, dtype=torch.float32), torch.tensor(weights))
    rx, ry, rw = reference_encode(keypoints, weights, (256, 192), (4.9, 5.66), 2.0, normalize)
    assert tx.shape == (6, 17, 384) and ty.shape == (6, 17, 512)
    assert 0 < rw.sum() < weights.sum()  # the sample has both kept and dropped keypoints
    np.testing.assert_allclose(w.numpy(), rw)
    np.testing.assert_allclose(tx.numpy(), rx, atol=1e-6)
    np.testing.assert_allclose(ty.numpy(), ry, atol=1e-6)


def test_window_partly_inside_keeps_the_keypoint_fully_outside_drops_it():
    codec = SimCCCodec(**RTMPOSE_CODEC)
    keypoints = torch.tensor([[[-6.0, 100.0], [-8.0, 100.0], [50.0, float("nan")]]])
    _, _, w = codec.encode(keypoints, torch.ones(1, 3))
    # x = -6 px -> bin -12, window right edge -12 + 14.7 + 1 > 0; x = -8 -> -16 + 15.7 < 0.
    assert w.tolist() == [[1.0, 0.0, 0.0]]


@settings(max_examples=50)
@given(st.floats(0, 191.74), st.floats(0, 255.74))  # every point whose nearest bin exists
def test_encode_then_decode_returns_the_keypoint_within_one_bin(x, y):
    codec = SimCCCodec(**RTMPOSE_CODEC)
    tx, ty, _ = codec.encode(torch.tensor([[[x, y]]]), torch.ones(1, 1))
    keypoints, scores = codec.decode(tx, ty)
    assert abs(keypoints[0, 0, 0].item() - x) <= 0.5 / codec.split_ratio + 1e-4
    assert abs(keypoints[0, 0, 1].item() - y) <= 0.5 / codec.split_ratio + 1e-4
    assert scores.item() == pytest.approx(1.0)


def test_decode_hand_made_logits():
    codec = SimCCCodec(**RTMPOSE_CODEC)
    simcc_x, simcc_y = torch.full((1, 2, 384), -1.0), torch.full((1, 2, 512), -1.0)
    simcc_x[0, 0, 10], simcc_y[0, 0, 7] = 3.0, 2.0      # keypoint 0 at (5, 3.5), score min(3, 2)
    simcc_x[0, 1, 100] = 0.5                            # keypoint 1: y maximum -1 -> score -1 <= 0
    keypoints, scores = codec.decode(simcc_x, simcc_y)
    assert keypoints[0, 0].tolist() == [5.0, 3.5] and scores[0, 0].item() == 2.0
    assert keypoints[0, 1].tolist() == [-0.5, -0.5] and scores[0, 1].item() == -1.0  # bin -1, as mmpose


def test_flip_back_is_an_involution_and_maps_a_flipped_crop_back():
    skeleton = get_skeleton("coco")
    codec = SimCCCodec(**RTMPOSE_CODEC)
    torch.manual_seed(0)
    sx, sy = torch.randn(2, 17, 384), torch.randn(2, 17, 512)
    back_x, back_y = flip_simcc(*flip_simcc(sx, sy, skeleton.flip_indices), skeleton.flip_indices)
    assert torch.equal(back_x, sx) and torch.equal(back_y, sy)

    keypoints = torch.rand(2, 17, 2) * torch.tensor([191.0, 255.0])
    flipped = keypoints[:, skeleton.flip_indices].clone()          # left <-> right swap names ...
    flipped[..., 0] = 192 - 1 - flipped[..., 0]                     # ... and x mirrors in the crop
    fx, fy, _ = codec.encode(flipped, torch.ones(2, 17))
    decoded, _ = codec.decode(*flip_simcc(fx, fy, skeleton.flip_indices))
    # bins are reversed without a shift, so x comes back one bin (half a pixel) right, as in mmpose
    assert (decoded[..., 0] - keypoints[..., 0] - 1.0 / codec.split_ratio).abs().max() <= 0.25 + 1e-4
    assert (decoded[..., 1] - keypoints[..., 1]).abs().max() <= 0.25 + 1e-4


def test_flip_with_wrong_indices_is_an_input_error():
    with pytest.raises(InputError, match="flip_indices"):
        flip_simcc(torch.zeros(1, 17, 8), torch.zeros(1, 17, 8), list(range(14)))


def test_encode_rejects_bad_shapes():
    with pytest.raises(InputError, match="keypoints"):
        SimCCCodec(**RTMPOSE_CODEC).encode(torch.zeros(2, 17, 3), torch.ones(2, 17))


def test_kl_loss_reduction_and_zero_at_the_label():
    torch.manual_seed(0)
    loss_fn = KLDiscretLoss(beta=10.0, label_softmax=True, use_target_weight=True)
    px, py, tx, ty = torch.randn(2, 3, 12), torch.randn(2, 3, 16), torch.rand(2, 3, 12), torch.rand(2, 3, 16)
    weights = torch.tensor([[1.0, 0.0, 2.0], [1.0, 1.0, 0.5]])
    loss = loss_fn((px, py), (tx, ty), weights)

    def kl(pred, label):  # per keypoint, averaged over bins
        p_log = torch.log_softmax(10 * pred, -1)
        q = torch.softmax(10 * label, -1)
        return (q * (q.log() - p_log)).mean(-1)

    expected = ((kl(px, tx) + kl(py, ty)) * weights).sum() / 3
    torch.testing.assert_close(loss, expected)
    assert loss_fn((tx, ty), (tx, ty), weights).abs().item() < 1e-6
    doubled = loss_fn((px.repeat(2, 1, 1), py.repeat(2, 1, 1)), (tx.repeat(2, 1, 1), ty.repeat(2, 1, 1)),
                      weights.repeat(2, 1))
    torch.testing.assert_close(doubled, 2 * loss)  # summed over the batch, divided by K only
