"""RTMPose: official state-dict layout, sizes, the model contract, learning and export."""

import io

import numpy as np
import pytest
import torch

from posekit.bench.complexity import count_gmacs, count_params
from posekit.core.errors import ConfigError, InputError
from posekit.models import create_model, list_models, model_card
from posekit.models.rtmpose import RTMPose
from official_keys import KEYS_DIR, read_keys

VARIANTS = ["rtmpose-t", "rtmpose-s", "rtmpose-m", "rtmpose-l", "rtmpose-m-384", "rtmpose-l-384"]
# Parameters of the official mmpose models, measured (reference/official_sizes_and_keys.md).
OFFICIAL_PARAMS = {"rtmpose-t": 3_337_007, "rtmpose-s": 5_473_251, "rtmpose-m": 13_587_611,
                   "rtmpose-l": 27_660_339, "rtmpose-l-384": 27_790_387}


def tiny(**overrides) -> RTMPose:
    return create_model("rtmpose-t", widen=0.125, input_size=(64, 48), **overrides)


def test_all_variants_are_registered():
    assert set(VARIANTS) <= set(list_models(family="rtmpose"))
    assert model_card("rtmpose-l-384").input_size == (384, 288)


@pytest.mark.skipif(not KEYS_DIR.is_dir(), reason="the shared reference key lists are not on this machine")
@pytest.mark.parametrize("name", ["rtmpose-t", "rtmpose-m"])
def test_state_dict_equals_the_official_layout(name):
    reference = read_keys(name)
    ours = {k: tuple(v.shape) for k, v in create_model(name).state_dict().items()}
    assert len(reference) > 200
    assert ours == reference


def test_batchnorm_eps_is_the_official_1e_5():
    bns = [m for m in create_model("rtmpose-t").modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.eps == 1e-5 and bn.momentum == 0.1 for bn in bns)


@pytest.mark.parametrize("name", VARIANTS)
def test_parameter_count_matches_the_model_card(name):
    params = count_params(create_model(name).for_inference())
    card = model_card(name)
    assert abs(params / 1e6 / card.params_m - 1) < 0.005
    if name in OFFICIAL_PARAMS:
        assert params == OFFICIAL_PARAMS[name]


@pytest.mark.parametrize("name", ["rtmpose-t", "rtmpose-m"])
def test_gmacs_match_the_model_card(name):
    card = model_card(name)
    gmacs = count_gmacs(create_model(name).for_inference(), (1, 3, *card.input_size))
    assert abs(gmacs / card.gmacs - 1) < 0.02


def test_card_fields():
    card = model_card("rtmpose-m")
    assert card.paper.startswith("RTMPose") and card.coco_ap == 75.8 and card.input_size == (256, 192)
    assert card.checkpoint_url.startswith("https://download.openmmlab.com/") and "256x192" in card.checkpoint_url
    assert model_card("rtmpose-m-384").gmacs == 4.33 and "384x288" in model_card("rtmpose-m-384").checkpoint_url


def test_forward_shapes_and_input_check():
    model = tiny().eval()
    simcc_x, simcc_y = model(torch.rand(2, 3, 64, 48) * 255)
    assert simcc_x.shape == (2, 17, 96) and simcc_y.shape == (2, 17, 128)
    assert model.codec.sigma == (4.9, 5.66)
    with pytest.raises(InputError, match="64, 48"):
        model(torch.zeros(1, 3, 48, 64))


def test_head_init_follows_mmpose():
    head = create_model("rtmpose-t").head
    assert head.final_layer.weight.std().item() == pytest.approx(0.001, rel=0.05)
    assert head.cls_y.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert head.final_layer.bias.abs().max().item() == 0.0
    assert 0 <= head.gau.gamma.min().item() and head.gau.gamma.max().item() <= 1


def test_unknown_override_is_a_config_error():
    with pytest.raises(ConfigError, match="widen_factor"):
        create_model("rtmpose-t", widen_factor=0.5)


def test_decode_to_image_pixels_and_flip_merge():
    model = tiny().eval()
    simcc_x, simcc_y = torch.full((1, 17, 96), -1.0), torch.full((1, 17, 128), -1.0)
    simcc_x[:, :, 24], simcc_y[:, :, 64] = 2.0, 1.0       # every keypoint at the crop centre (12, 32)
    simcc_x[:, 1, 24], simcc_x[:, 1, 40] = 0.0, 3.0        # left eye at x = 20
    keypoints, scores = model.decode_crops((simcc_x, simcc_y))
    assert keypoints[0, 0].tolist() == [12.0, 32.0] and keypoints[0, 1].tolist() == [20.0, 32.0]
    assert scores[0, 1].item() == 1.0

    # crop box: centre (100, 200), 96 x 128 pixels in the image -> scale 2
    poses = model.decode((simcc_x, simcc_y), {"center": np.array([[100.0, 200.0]]),
                                              "scale": np.array([[96.0, 128.0]]), "image_index": np.array([0])})
    np.testing.assert_allclose(poses[0].keypoints[0, 1], [100 - 48 + 40, 200 - 64 + 64])

    # the same logits as a flipped crop's: its left eye (x bin 40) is the right eye (2) at bin 95 - 40
    merged_x, _ = model.merge_flip((simcc_x, simcc_y), (simcc_x, simcc_y))
    assert merged_x[0, 2].argmax().item() == 95 - 40 and merged_x[0, 2].max().item() == 0.5 * (-1 + 3)
    torch.testing.assert_close(model.flip_back(model.flip_back((simcc_x, simcc_y)))[0], simcc_x)


def test_loss_requires_geometric_targets():
    model = tiny()
    with pytest.raises(InputError, match="keypoint_weights"):
        model.loss(model(torch.zeros(1, 3, 64, 48)), {"keypoints": torch.zeros(1, 17, 2)})


def synthetic_crops(batch: int, height: int = 64, width: int = 48, seed: int = 0):
    """Noise crops with one coloured blob per keypoint -> images (B,3,H,W) 0-255, keypoints (B,17,2)."""
    g = torch.Generator().manual_seed(seed)
    keypoints = torch.rand(batch, 17, 2, generator=g) * torch.tensor([width - 8.0, height - 8.0]) + 4
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    blobs = torch.exp(-((xs - keypoints[..., 0, None, None]) ** 2 + (ys - keypoints[..., 1, None, None]) ** 2) / 4)
    colours = torch.rand(17, 3, generator=g) * 255
    images = torch.rand(batch, 3, height, width, generator=g) * 60
    images = images + torch.einsum("bkhw,kc->bchw", blobs, colours)
    return images.clamp(0, 255), keypoints


@pytest.mark.slow
def test_tiny_model_learns_a_fixed_batch():
    torch.manual_seed(0)
    model = tiny()
    images, keypoints = synthetic_crops(4)
    targets = {"keypoints": keypoints, "keypoint_weights": torch.ones(4, 17)}
    optimiser = torch.optim.AdamW(model.parameters(), lr=1e-3)

    def pixel_error():
        # BN statistics of this exact batch (30 steps of running averages are not converged yet)
        for bn in (m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.reset_running_stats()
            bn.momentum = None
        with torch.no_grad():
            model.train()(images)
            decoded, _ = model.eval().decode_crops(model(images))
        model.train()
        return (decoded - keypoints).norm(dim=-1).mean().item()

    error_before, losses = pixel_error(), []
    for _ in range(30):
        loss = model.loss(model(images), targets)["loss_kpt"]
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.25 * losses[0]
    assert pixel_error() < 0.25 * error_before


@pytest.mark.slow
def test_forward_traces_and_exports_to_onnx():
    torch.manual_seed(0)
    model = tiny().eval()
    images = torch.rand(2, 3, 64, 48) * 255
    eager = model(images)
    traced = torch.jit.trace(model, images)
    for a, b in zip(traced(images), eager):
        torch.testing.assert_close(a, b)

    import onnxruntime as ort
    buffer = io.BytesIO()
    torch.onnx.export(model, (images,), buffer, dynamo=False, opset_version=17,
                      input_names=["images"], output_names=["simcc_x", "simcc_y"])
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    onnx_x, onnx_y = session.run(None, {"images": images.numpy()})
    np.testing.assert_allclose(onnx_x, eager[0].detach().numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(onnx_y, eager[1].detach().numpy(), rtol=1e-4, atol=1e-5)
