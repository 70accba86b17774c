"""Heatmap models (SimpleBaseline, HRNet) and their codecs (MSRA, DARK, UDP): sizes, layout,
round trips, flip test, the model contract and learning."""

import numpy as np
import pytest
import torch

from posekit.bench.complexity import count_gmacs, count_params
from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import get_skeleton
from posekit.models import create_model, list_models, model_card
from posekit.models.codecs.heatmap import MSRAHeatmap, UDPHeatmap, flip_heatmaps, gaussian_heatmaps
from posekit.models.heatmap import HeatmapPoseModel, keypoint_mse_loss

VARIANTS = ["simplebaseline-r50", "simplebaseline-r101", "simplebaseline-r152", "hrnet-w32", "hrnet-w48"]
INPUT, HEATMAP = (256, 192), (64, 48)



def tiny_simplebaseline(**overrides) -> HeatmapPoseModel:
    return create_model("simplebaseline-r50", depth=18, base_channels=8, deconv_channels=(16, 16, 16),
                        input_size=(64, 64), **overrides)


def tiny_hrnet(**overrides) -> HeatmapPoseModel:
    return create_model("hrnet-w32", width=8, stem_channels=8, stage_modules=(1, 1, 1), num_blocks=1,
                        input_size=(64, 64), **overrides)


def interior_keypoints(codec, batch: int, num_keypoints: int = 17, margin: float = 4.0, seed: int = 0):
    """Random keypoints in input pixels whose heatmap positions are >= margin px from the border."""
    g = torch.Generator().manual_seed(seed)
    h, w = codec.heatmap_size
    points = torch.rand(batch, num_keypoints, 2, generator=g) * torch.tensor([w - 2 * margin, h - 2 * margin]) + margin
    return points * codec.scale_xy(points), codec.scale_xy(points)


# ---------------------------------------------------------------------------------------------- sizes


def test_variants_are_registered_as_top_down_heatmap_models():
    assert set(VARIANTS) <= set(list_models(family="heatmap", paradigm="top-down"))
    for name in VARIANTS:
        card = model_card(name)
        assert card.input_size == INPUT and card.params_m and card.checkpoint_url.endswith(".pth")


@pytest.mark.parametrize("name", VARIANTS)
def test_parameters_within_half_a_percent_of_the_official_count(name):
    model = create_model(name).for_inference()
    params_m = count_params(model) / 1e6
    assert abs(params_m - model_card(name).params_m) / model_card(name).params_m < 0.005, params_m


@pytest.mark.parametrize("size", ["t", "s", "m", "l"])
def test_cspnext_udp_backbone_is_the_rtmpose_backbone_it_initialises(size):
    heatmap, rtmpose = create_model(f"cspnext-{size}-udp"), create_model(f"rtmpose-{size}")
    assert isinstance(heatmap.codec, UDPHeatmap) and heatmap.heatmap_size == HEATMAP
    backbone = {k: tuple(v.shape) for k, v in heatmap.state_dict().items() if k.startswith("backbone.")}
    assert backbone == {k: tuple(v.shape) for k, v in rtmpose.state_dict().items() if k.startswith("backbone.")}
    assert model_card(f"cspnext-{size}-udp").checkpoint_url.endswith("-256x192-" + {
        "t": "cbed682d", "s": "92f5a029", "m": "f2f7d6f6", "l": "273b7631"}[size] + "_20230130.pth")


def test_unknown_heatmap_backbone_is_refused():
    with pytest.raises(ConfigError, match="cspnext"):
        create_model("cspnext-t-udp", backbone="vit")


def test_simplebaseline_r50_matches_the_official_model_exactly():
    model = create_model("simplebaseline-r50")
    assert count_params(model) == 33_999_697  # reference/official_sizes_and_keys.md
    state = model.state_dict()
    assert len(state) == 338
    assert tuple(state["head.final_layer.weight"].shape) == (17, 256, 1, 1)
    assert tuple(state["head.deconv_layers.0.weight"].shape) == (2048, 256, 4, 4)  # ConvTranspose: (in, out)
    assert tuple(state["head.deconv_layers.7.running_mean"].shape) == (256,)
    assert {k.split(".")[1] for k in state if k.startswith("head.")} == {"deconv_layers", "final_layer"}
    assert sorted({int(k.split(".")[2]) for k in state if k.startswith("head.deconv_layers.")}) == [0, 1, 3, 4, 6, 7]
    # GMACs as measured from the official config with the same counter: 5.426
    assert count_gmacs(model, (1, 3, *INPUT)) == pytest.approx(5.426, rel=0.005)


def test_hrnet_w32_head_is_a_single_1x1_conv_and_complexity_matches():
    model = create_model("hrnet-w32")
    head_keys = {k: tuple(v.shape) for k, v in model.state_dict().items() if k.startswith("head.")}
    assert head_keys == {"head.final_layer.weight": (17, 32, 1, 1), "head.final_layer.bias": (17,)}
    assert "backbone.stage4.2.fuse_layers.0.3.0.weight" in model.state_dict()
    # the published 7.7 (MMPose zoo) counts a little more than FlopCounterMode (7.645)
    assert count_gmacs(model, (1, 3, *INPUT)) == pytest.approx(model_card("hrnet-w32").gmacs, rel=0.01)


# ---------------------------------------------------------------------------------------------- codecs


@pytest.mark.parametrize("codec, tolerance", [
    (MSRAHeatmap(INPUT, HEATMAP), 0.5),                  # nearest pixel; the quarter step stays put
    (MSRAHeatmap(INPUT, HEATMAP, unbiased=True), 0.1),   # DARK
    (UDPHeatmap(INPUT, HEATMAP), 0.1),                   # UDP + its DARK
])
def test_encode_decode_round_trip(codec, tolerance):
    keypoints, scale = interior_keypoints(codec, batch=6)
    heatmaps, weights = codec.encode(keypoints, torch.ones(6, 17))
    assert heatmaps.shape == (6, 17, *HEATMAP) and torch.equal(weights, torch.ones(6, 17))
    decoded, scores = codec.decode(heatmaps)
    error = ((decoded - keypoints) / scale).abs()  # heatmap pixels
    assert error.max() <= tolerance + 1e-4
    assert scores.min() > 0.9


def test_dark_is_more_precise_than_the_quarter_offset():
    msra, dark = MSRAHeatmap(INPUT, HEATMAP), MSRAHeatmap(INPUT, HEATMAP, unbiased=True)
    keypoints, _ = interior_keypoints(msra, batch=4)
    errors = [(c.decode(c.encode(keypoints, torch.ones(4, 17))[0])[0] - keypoints).norm(dim=-1).mean()
              for c in (msra, dark)]
    assert errors[1] < 0.1 * errors[0]


def test_quarter_offset_moves_towards_the_higher_neighbour():
    codec = MSRAHeatmap(INPUT, HEATMAP)
    heatmaps = torch.zeros(1, 2, *HEATMAP)
    heatmaps[0, 0, 10, 20], heatmaps[0, 0, 10, 21] = 1.0, 0.5   # right neighbour higher -> +0.25 in x
    heatmaps[0, 1, 30, 5], heatmaps[0, 1, 29, 5] = 1.0, 0.5     # upper neighbour higher -> -0.25 in y
    decoded, scores = codec.decode(heatmaps)
    assert torch.allclose(decoded[0] / codec.scale_xy(decoded), torch.tensor([[20.25, 10.0], [5.0, 29.75]]))
    assert torch.equal(scores, torch.ones(1, 2))


def test_udp_maps_the_last_input_pixel_to_the_last_heatmap_pixel():
    codec = UDPHeatmap(INPUT, HEATMAP)
    heatmaps, _ = codec.encode(torch.tensor([[[191.0, 255.0], [0.0, 0.0]]]), torch.ones(1, 2))
    assert heatmaps[0, 0, 63, 47] > 0.9999 and heatmaps[0, 1, 0, 0] == 1.0


def test_invisible_and_far_outside_keypoints_get_no_target():
    codec = MSRAHeatmap(INPUT, HEATMAP)
    keypoints = torch.tensor([[[50.0, 60.0], [50.0, 60.0], [-200.0, 60.0], [190.0, 270.0], [float("nan"), 1.0]]])
    heatmaps, weights = codec.encode(keypoints, torch.tensor([[1.0, 0.0, 1.0, 1.0, 1.0]]))
    assert weights.tolist() == [[1.0, 0.0, 0.0, 1.0, 0.0]]  # (190, 270): heatmap y 67.5, window from row 62
    assert heatmaps[0, 0].max() == 1.0
    assert heatmaps[0, [1, 2, 4]].abs().sum() == 0
    assert 0 < heatmaps[0, 3].max() < 1  # only the tail of the Gaussian is inside


def test_windowed_gaussian_is_cut_at_three_sigma():
    heatmaps, _ = gaussian_heatmaps(torch.tensor([[[20.0, 20.0]]]), torch.ones(1, 1), (40, 40), 2.0, subpixel=False)
    rows = heatmaps[0, 0, 20].nonzero().flatten()
    assert rows.min() == 14 and rows.max() == 26
    unwindowed, _ = gaussian_heatmaps(torch.tensor([[[20.0, 20.0]]]), torch.ones(1, 1), (40, 40), 2.0,
                                      subpixel=True, windowed=False)
    assert unwindowed[0, 0, 20, 27] > 0


# ---------------------------------------------------------------------------------------------- flip


def test_flip_heatmaps_mirrors_swaps_channels_and_shifts():
    heatmaps = torch.zeros(1, 3, 4, 6)
    heatmaps[0, 0, 1, 1] = 1.0
    heatmaps[0, 2, 2, 5] = 2.0
    flip = [0, 2, 1]
    plain = flip_heatmaps(heatmaps, flip, shift=False)
    assert plain[0, 0, 1, 4] == 1.0 and plain[0, 1, 2, 0] == 2.0 and plain.sum() == 3.0
    shifted = flip_heatmaps(heatmaps, flip, shift=True)
    assert shifted[0, 0, 1, 5] == 1.0 and shifted[0, 1, 2, 1] == 2.0
    assert torch.equal(shifted[..., 0], plain[..., 0])  # MMPose keeps the first column
    with pytest.raises(InputError, match="flip_indices"):
        flip_heatmaps(heatmaps, [0, 1], shift=False)


def flipped_targets(codec, keypoints, flip_indices):
    """Heatmap targets of the horizontally flipped crop (x -> W - 1 - x, left/right swapped)."""
    flipped = keypoints.clone()
    flipped[..., 0] = codec.input_size[1] - 1 - keypoints[..., 0]
    return codec.encode(flipped[:, flip_indices], torch.ones(keypoints.shape[:2]))[0]


def test_udp_flip_back_recovers_the_unflipped_heatmaps_exactly():
    model = tiny_hrnet(codec="udp")
    codec, flip = model.codec, model.skeleton.flip_indices
    keypoints, _ = interior_keypoints(codec, batch=3)
    heatmaps = codec.encode(keypoints, torch.ones(3, 17))[0]
    back = model.flip_back(flipped_targets(codec, keypoints, flip))
    assert torch.allclose(back, heatmaps, atol=1e-5)


def test_msra_flip_shift_reduces_the_flip_bias():
    codec = MSRAHeatmap(INPUT, HEATMAP)
    flip = get_skeleton("coco").flip_indices
    keypoints, scale = interior_keypoints(codec, batch=8, seed=1)
    flipped = flipped_targets(codec, keypoints, flip)
    bias = {}
    for shift in (False, True):
        decoded, _ = codec.decode(flip_heatmaps(flipped, flip, shift=shift))
        bias[shift] = ((decoded - keypoints)[..., 0] / scale[0]).mean().item()
    assert abs(bias[True]) < 0.35 < 0.6 < abs(bias[False])  # about +0.25 px with the shift, -0.75 without


# ---------------------------------------------------------------------------------------------- model


def test_forward_gives_heatmaps_at_a_quarter_of_the_input():
    for model in (tiny_simplebaseline(), tiny_hrnet()):
        out = model.eval()(torch.rand(2, 3, 64, 64) * 255)
        assert out.shape == (2, 17, 16, 16) and model.heatmap_size == (16, 16)


def test_loss_is_mmpose_weighted_mse():
    model = tiny_hrnet()
    keypoints = torch.tensor([[[20.0, 30.0]] * 17])
    weights = torch.ones(1, 17)
    weights[0, 3] = 0
    target, _ = model.codec.encode(keypoints, weights)
    outputs = torch.rand(1, 17, 16, 16)
    loss = model.loss(outputs, {"keypoints": keypoints, "keypoint_weights": weights})["loss_kpt"]
    expected = ((outputs - target) ** 2 * weights[..., None, None]).sum() / outputs.numel()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-6)
    assert keypoint_mse_loss(target, target, weights) == 0


def test_decode_maps_back_to_image_pixels():
    model = tiny_simplebaseline(dark=True)
    keypoints, _ = interior_keypoints(model.codec, batch=3, seed=2)   # crop pixels, 64x64 crops
    heatmaps = model.codec.encode(keypoints, torch.ones(3, 17))[0]
    center = np.array([[100.0, 80.0], [300.0, 200.0], [50.0, 50.0]])
    scale = np.array([[128.0, 128.0], [64.0, 64.0], [32.0, 32.0]])
    poses = model.decode(heatmaps, {"center": center, "scale": scale, "image_index": np.array([0, 1, 1])})
    assert [len(p.keypoints) for p in poses] == [1, 2]
    expected = keypoints.numpy() / 64 * scale[:, None] + center[:, None] - scale[:, None] / 2
    got = np.concatenate([poses[0].keypoints, poses[1].keypoints])
    assert np.abs(got - expected).max() < 0.1 * 128 / 16  # 0.1 heatmap px at the coarsest crop scale


def test_udp_flip_back_is_an_involution_so_flip_test_of_mirrored_outputs_is_exact():
    model = tiny_hrnet(codec="udp")
    heatmaps = torch.rand(2, 17, 16, 16)
    mirrored = flip_heatmaps(heatmaps, model.skeleton.flip_indices, shift=False)
    assert torch.allclose(model.merge_flip(heatmaps, mirrored), heatmaps)


def test_tiny_simplebaseline_learns_a_fixed_batch():
    torch.manual_seed(0)
    model = tiny_simplebaseline().train()
    g = torch.Generator().manual_seed(0)
    # a bright square per image; the 17 keypoints sit at fixed offsets from its centre
    centres = torch.rand(4, 2, generator=g) * 40 + 12
    keypoints = centres[:, None] + (torch.rand(17, 2, generator=g) - 0.5) * 8   # (4, 17, 2)
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
    square = ((xx - centres[:, 0, None, None]).abs() < 4) & ((yy - centres[:, 1, None, None]).abs() < 4)
    images = (square[:, None] * 200.0 + torch.rand(4, 3, 64, 64, generator=g) * 40).contiguous()
    targets = {"keypoints": keypoints, "keypoint_weights": torch.ones(4, 17)}
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)

    def keypoint_error() -> float:
        with torch.no_grad():
            return (model.decode_crops(model(images))[0] - keypoints).norm(dim=-1).mean().item()

    error_before, losses = keypoint_error(), []
    for _ in range(30):
        loss = model.loss(model(images), targets)["loss_kpt"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    assert keypoint_error() < 0.5 * error_before


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter is the one deploy uses
def test_exports_to_onnx_and_matches_eager():
    import io

    import onnxruntime as ort

    model = tiny_hrnet().for_inference()
    images = torch.rand(2, 3, 64, 64) * 255
    buffer = io.BytesIO()
    torch.onnx.export(model, (images,), buffer, dynamo=False, opset_version=17, input_names=["images"],
                      output_names=["heatmaps"], dynamic_axes={"images": {0: "batch"}})
    (onnx_heatmaps,) = ort.InferenceSession(buffer.getvalue()).run(None, {"images": images.numpy()})
    np.testing.assert_allclose(onnx_heatmaps, model(images).detach().numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------------------------------------- errors


def test_bad_configuration_and_targets_say_what_to_fix():
    with pytest.raises(ConfigError, match="unknown heatmap model option"):
        create_model("hrnet-w32", widht=16)
    with pytest.raises(ConfigError, match="multiples of 32"):
        create_model("simplebaseline-r50", input_size=(250, 192))
    with pytest.raises(ConfigError, match="dark=True"):
        create_model("hrnet-w32", codec="udp", dark=True)
    with pytest.raises(ConfigError, match="codec"):
        create_model("hrnet-w32", codec="simcc")
    model = tiny_hrnet()
    with pytest.raises(InputError, match="keypoint_weights"):
        model.loss(torch.zeros(1, 17, 16, 16), {"keypoints": torch.zeros(1, 17, 2)})
    with pytest.raises(InputError, match="feed crops"):
        model.loss(torch.zeros(1, 17, 8, 8), {"keypoints": torch.zeros(1, 17, 2),
                                              "keypoint_weights": torch.ones(1, 17)})
    with pytest.raises(InputError, match=r"\(B,K,16,16\)"):
        model.decode_crops(torch.zeros(1, 17, 8, 8))
