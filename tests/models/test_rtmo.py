"""RTMO: official state-dict layout and sizes, the DCC, the losses, decode, deployment, learning, export."""

import io
import math
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.bench.complexity import count_gmacs, count_params
from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import get_skeleton
from posekit.models import create_model, list_models, model_card
from posekit.models.rtmo import DCC, RTMO, RTMOOKSLoss, mle_cc_loss, varifocal_loss
from posekit.nn.gau import RTMCCBlock
from posekit.nn.hybrid_encoder import RepVGGBlock
from official_keys import KEYS_DIR, read_keys

# Parameters of the official mmpose models, measured (reference/official_sizes_and_keys.md);
# rtmo-t is published only as 6.830 M (derived), so it is checked to that precision.
OFFICIAL_PARAMS = {"rtmo-s": 9_868_899, "rtmo-m": 22_526_307, "rtmo-l": 44_693_315}
TINY = dict(widen=0.125, deepen=0.33, input_size=(64, 64), neck_hidden=32, neck_ffn=64, neck_heads=4,
            dcc_channels=32, dcc_gau_s=32, spe_channels=32)


def tiny(**overrides) -> RTMO:
    return create_model("rtmo-s", **{**TINY, **overrides})


def randomise_batchnorms(model: torch.nn.Module, seed: int = 0) -> None:
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(1 + 0.2 * torch.randn(n, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(n, generator=g))


def people_targets(boxes: torch.Tensor, mask: torch.Tensor, seed: int = 0) -> dict:
    """Targets for people filling `boxes` (B, M, 4): keypoints spread inside each box, all visible."""
    g = torch.Generator().manual_seed(seed)
    b, m = mask.shape
    k = 17
    size = boxes[..., None, 2:] - boxes[..., None, :2]
    keypoints = boxes[..., None, :2] + torch.rand(b, m, k, 2, generator=g) * size
    areas = (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1]) * 0.6
    return {"boxes": boxes, "keypoints": keypoints, "visible": torch.full((b, m, k), 2.0), "areas": areas,
            "mask": mask}


# --------------------------------------------------------------------------- layout and sizes

def removed_by_fusion(keys: dict[str, tuple[int, ...]]) -> int:
    """Parameters for_inference() must drop, from the official key list alone: the RepVGG 1x1 kernels and
    both branches' BN affine parameters (less the bias the fused conv gains), the DCC's BatchNorm1d
    affine parameters, and the training-only layers (out_kpt_reg, sigma_fc)."""
    def numel(key):
        return math.prod(keys[key])

    params = [k for k in keys if k.rsplit(".", 1)[-1] in ("weight", "bias", "scale")]
    repvgg = [k for k in params if ".bottlenecks." in k and (".branch_1x1." in k or ".bn." in k)]
    fused_biases = [k for k in params if k.endswith("branch_3x3.conv.weight")]
    dropped = [k for k in params if "pose_to_kpts.1." in k or "out_kpt_reg" in k or "sigma_fc" in k]
    return sum(map(numel, repvgg + dropped)) - sum(keys[k][0] for k in fused_biases)


@pytest.mark.skipif(not KEYS_DIR.is_dir(), reason="the shared reference key lists are not on this machine")
@pytest.mark.parametrize("name", ["rtmo-s", pytest.param("rtmo-l", marks=pytest.mark.slow)])
def test_state_dict_and_sizes_equal_the_official_model(name):
    model = create_model(name)
    official = read_keys(name)
    # every key and shape, buffers included (sincos_pos_enc.dim_t, dcc.{x,y}_bins, spe.dim_t, loss_oks.sigmas)
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == official
    assert count_params(model) == OFFICIAL_PARAMS[name]
    deployed = model.for_inference()
    assert count_params(deployed) == OFFICIAL_PARAMS[name] - removed_by_fusion(official)
    assert abs(count_params(deployed) / 1e6 / model_card(name).params_m - 1) < 0.02


@pytest.mark.parametrize("name", ["rtmo-t", "rtmo-m"])
def test_parameter_counts_of_the_variants_without_key_lists(name):
    model = create_model(name)
    card = model_card(name)
    if name in OFFICIAL_PARAMS:
        assert count_params(model) == OFFICIAL_PARAMS[name]
    assert abs(count_params(model) / 1e6 - card.params_m) < 5e-4
    assert count_params(model.for_inference()) < count_params(model)


def test_registry_cards():
    assert list_models(family="rtmo") == ["rtmo-l", "rtmo-m", "rtmo-s", "rtmo-t"]
    s, t = model_card("rtmo-s"), model_card("rtmo-t")
    assert s.paradigm == "one-stage" and s.input_size == (640, 640) and s.coco_ap == 67.7
    assert s.checkpoint_url.endswith("rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth")
    assert t.input_size == (416, 416) and create_model("rtmo-t").input_size == (416, 416)
    assert create_model("rtmo-l", **{**TINY, "widen": 1.0}).loss_weights["loss_mle"] == 1e-2
    assert tiny().loss_weights["loss_mle"] == 1.0


@pytest.mark.slow
def test_dense_gmacs_at_640_match_the_official_count():
    """Official 12.063 GMACs count the eval forward without the proxy-keypoint convs (2000 x 144 x 34 MACs)."""
    model = create_model("rtmo-s")
    proxy_branch = 2000 * 144 * 34 / 1e9
    assert count_gmacs(model, (1, 3, 640, 640)) - proxy_branch == pytest.approx(12.063, abs=2e-3)


# --------------------------------------------------------------------------- forward contract

def test_forward_outputs_priors_and_bgr_input():
    model = tiny().eval()
    seen = []
    model.backbone.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    images = torch.rand(2, 3, 64, 96) * 255
    with torch.no_grad():
        out = model(images)
    torch.testing.assert_close(seen[0], images[:, [2, 1, 0]])  # the network sees BGR 0-255
    a = 4 * 6 + 2 * 3  # stride 16 then 32
    assert out["cls_logits"].shape == (2, a) and out["boxes"].shape == (2, a, 4)
    assert out["keypoint_logits"].shape == (2, a, 17) and out["pose_vectors"].shape == (2, a, 64)
    assert out["proxy_keypoints"].shape == (2, a, 17, 2)
    # grid points at cell centres: (j s + (s - 1) / 2, i s + (s - 1) / 2)
    torch.testing.assert_close(out["priors"][[0, 1, 6, 24, 25]],
                               torch.tensor([[7.5, 7.5, 16], [23.5, 7.5, 16], [7.5, 23.5, 16],
                                             [15.5, 15.5, 32], [47.5, 15.5, 32]]))
    assert (out["boxes"][..., 2:] > out["boxes"][..., :2]).all()


def test_bad_inputs_and_options_are_refused():
    model = tiny()
    with pytest.raises(InputError, match="multiples of 32"):
        model(torch.zeros(1, 3, 64, 70))
    with pytest.raises(ConfigError, match="multiple of 32"):
        tiny(input_size=(100, 100))
    with pytest.raises(ConfigError, match="unknown RTMO option"):
        tiny(num_layers=3)
    with pytest.raises(ConfigError, match="loss name"):
        tiny(loss_weights={"loss_kpt": 1.0})
    assert tiny(loss_weights={"loss_mle": 5.0}).loss_weights == {
        "loss_cls": 1.0, "loss_bbox": 5.0, "loss_oks": 30.0, "loss_vis": 1.0, "loss_mle": 5.0}
    deployed = model.for_inference()
    with pytest.raises(InputError, match="proxy_keypoints"):
        deployed.loss(deployed(torch.zeros(1, 3, 64, 64)), {})
    with pytest.raises(InputError, match="targets lack"):
        model.loss(model(torch.zeros(1, 3, 64, 64)), {"boxes": torch.zeros(1, 0, 4)})


# --------------------------------------------------------------------------- DCC

def test_dcc_bins_span_the_padded_box():
    dcc = DCC(in_channels=8, num_keypoints=2, feat_channels=16, spe_channels=16, gau_s=8)
    x_bins, y_bins = dcc.bins(torch.tensor([[100.0, 50.0, 300.0, 450.0]]))
    assert x_bins.shape == (1, 192) and y_bins.shape == (1, 256)
    # centre (200, 250), padded size (250, 500)
    torch.testing.assert_close(x_bins[0, [0, -1]], torch.tensor([75.0, 325.0]))
    torch.testing.assert_close(y_bins[0, [0, -1]], torch.tensor([0.0, 500.0]))
    torch.testing.assert_close(x_bins[0, 1] - x_bins[0, 0], torch.tensor(250.0 / 191))


def test_dcc_peaked_distribution_decodes_to_the_bin_position():
    s = 64  # sine channels; the keypoint features hold [x encoding, y encoding]
    dcc = DCC(in_channels=8, num_keypoints=2, feat_channels=2 * s, spe_channels=s, gau_s=8).eval()
    with torch.no_grad():
        for fc, rows in ((dcc.x_fc, slice(0, s)), (dcc.y_fc, slice(s, 2 * s))):
            fc.weight.zero_()
            fc.bias.zero_()
            fc.weight[rows] = torch.eye(s)
    boxes, grids = torch.tensor([[100.0, 50.0, 300.0, 450.0]]), torch.tensor([[200.0, 250.0]])
    x_bins, y_bins = dcc.bins(boxes)
    jx, jy = [40, 150], [10, 200]
    # <spe(a), spe(b)> = sum cos((a - b) / dim_t) peaks at a = b, so these features peak at the chosen bins
    feats = 20.0 * torch.cat([dcc.spe(x_bins[0, jx] - grids[0, 0]), dcc.spe(y_bins[0, jy] - grids[0, 1])], -1)
    dcc.keypoint_features = lambda pose_vectors: feats[None]
    keypoints, (prob_x, prob_y), _ = dcc(torch.zeros(1, 8), boxes, grids)
    assert (prob_x.argmax(-1)[0] == torch.tensor(jx)).all() and (prob_y.argmax(-1)[0] == torch.tensor(jy)).all()
    assert prob_x.max() > 0.99
    expected = torch.tensor([[75 + 250 * 40 / 191, 500 * 10 / 255], [75 + 250 * 150 / 191, 500 * 200 / 255]])
    torch.testing.assert_close(keypoints[0], expected, atol=0.02, rtol=0)


def test_dcc_runs_a_lone_training_instance_on_running_statistics():
    dcc = DCC(in_channels=8, num_keypoints=3, feat_channels=16, spe_channels=16, gau_s=8).train()
    norm = dcc.pose_to_kpts[1]
    before = norm.running_mean.clone()
    keypoints, _, _ = dcc(torch.randn(1, 8), torch.tensor([[0.0, 0.0, 40.0, 80.0]]), torch.tensor([[20.0, 40.0]]))
    assert keypoints.shape == (1, 3, 2) and torch.isfinite(keypoints).all()
    assert torch.equal(norm.running_mean, before)
    dcc(torch.randn(4, 8), torch.tensor([[0.0, 0.0, 40.0, 80.0]] * 4), torch.tensor([[20.0, 40.0]] * 4))
    assert not torch.equal(norm.running_mean, before)  # two or more use (and update) batch statistics


def test_gau_adds_the_keypoint_encoding_to_queries_and_keys():
    torch.manual_seed(0)
    gau = RTMCCBlock(3, 8, 8, expansion_factor=2, s=4).eval()
    x, pos = torch.randn(2, 3, 8), torch.randn(3, 4)
    u, v, base = torch.split(F.silu(gau.uv(gau.ln(x))), [16, 16, 4], dim=-1)
    q = base * gau.gamma[0] + gau.beta[0] + pos
    k = base * gau.gamma[1] + gau.beta[1] + pos
    kernel = F.relu(q @ k.transpose(1, 2) / 2.0).square()
    expected = gau.res_scale(x) + gau.o(u * (kernel @ v))
    torch.testing.assert_close(gau(x, pos), expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(gau(x, torch.zeros(3, 4)), gau(x))


def test_dcc_target_heatmaps_are_laplace_densities():
    keypoints = torch.tensor([[[10.0, 20.0]]])  # (1, 1, 2)
    bins = (torch.tensor([[10.0, 14.0]]), torch.tensor([[20.0, 29.0]]))
    hm_x, hm_y = DCC.target_heatmaps(keypoints, bins, torch.tensor([[0.5]]), torch.tensor([4.0]))
    # exp(-|d| / sqrt(area) / sigma / 2) / sigma with sqrt(area) = 2, sigma = 0.5
    torch.testing.assert_close(hm_x[0, 0], torch.tensor([2.0, 2 * math.exp(-2.0)]))
    torch.testing.assert_close(hm_y[0, 0], torch.tensor([2.0, 2 * math.exp(-4.5)]))


# --------------------------------------------------------------------------- losses

def test_mle_loss_hand_case():
    prob_x = torch.tensor([[[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]]])  # (1, 2, 3)
    prob_y = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]])  # (1, 2, 2)
    t_x = torch.tensor([[[0.1, 0.8, 0.1], [2.0, 0.0, 0.0]]])
    t_y = torch.tensor([[[0.6, 0.2], [0.3, 0.5]]])
    weights = torch.tensor([[1.0, 0.5]])
    expected = (-math.log(0.8 * 0.6 + 1e-4) - 0.5 * math.log(1.0 * 0.5 + 1e-4)) / 2
    assert mle_cc_loss((prob_x, prob_y), (t_x, t_y), weights).item() == pytest.approx(expected, rel=1e-6)


def test_varifocal_loss_hand_case():
    logits, targets = torch.tensor([0.0, 2.0, 20.0]), torch.tensor([0.6, 0.0, 1.0])
    loss = varifocal_loss(logits, targets)
    expected_neg = 0.75 * (1 / (1 + math.exp(-2))) ** 2 * math.log(1 + math.exp(2))  # alpha p^gamma BCE(2, 0)
    torch.testing.assert_close(loss[:2], torch.tensor([0.6 * math.log(2), expected_neg]))
    assert loss[2].item() == pytest.approx(math.log(1 + math.exp(-10)), rel=1e-5)  # logit clipped to 10


def test_oks_loss_divides_the_visible_keypoints_by_k():
    sigmas = get_skeleton("coco").sigmas
    loss = RTMOOKSLoss(sigmas)
    kpts = torch.rand(1, 17, 2) * 50
    weights = torch.zeros(1, 17)
    weights[0, :5] = 1
    assert loss(kpts, kpts, weights, torch.tensor([900.0])).item() == pytest.approx(1 - 5 / 17, rel=1e-6)
    moved = kpts + torch.tensor([3.0, 4.0])  # 5 px off on every keypoint
    d2 = 25 / 900 / (2 * torch.tensor(sigmas[:5])) ** 2
    expected = 1 - torch.exp(-d2 / 2).sum().item() / 17
    assert loss(moved, kpts, weights, torch.tensor([900.0])).item() == pytest.approx(expected, rel=1e-5)


def test_loss_terms_with_people_and_without():
    model = tiny().train()
    images = torch.rand(2, 3, 64, 64) * 255
    boxes = torch.tensor([[[5.0, 10.0, 30.0, 55.0], [35.0, 5.0, 60.0, 50.0]], [[15.0, 15.0, 50.0, 60.0], [0, 0, 0, 0]]])
    losses = model.loss(model(images), people_targets(boxes, torch.tensor([[True, True], [True, False]])))
    assert set(losses) == {"loss_cls", "loss_bbox", "loss_oks", "loss_vis", "loss_mle"}
    assert all(torch.isfinite(v) for v in losses.values())
    assert losses["loss_bbox"] > 0 and losses["loss_oks"] > 0 and losses["loss_vis"] > 0

    nobody = people_targets(boxes, torch.zeros(2, 2, dtype=torch.bool))
    empty = model.loss(model(images), nobody)
    assert empty["loss_cls"] > 0 and all(empty[k] == 0 for k in ("loss_bbox", "loss_oks", "loss_vis", "loss_mle"))
    sum(empty.values()).backward()  # every term is in the graph
    assert model.head.head_module.out_cls[0].bias.grad is not None


def test_proxy_target_cc_trains_the_regression_branch_towards_the_dcc():
    model = tiny(proxy_target_cc=True, loss_weights={"loss_mle": 5.0, "loss_oks": 10.0}).train()
    boxes = torch.tensor([[[5.0, 10.0, 40.0, 60.0]]])
    losses = model.loss(model(torch.rand(1, 3, 64, 64) * 255), people_targets(boxes, torch.tensor([[True]])))
    assert all(torch.isfinite(v) for v in losses.values()) and losses["loss_mle"] != 0


# --------------------------------------------------------------------------- decode and deployment

def test_decode_thresholds_nms_dcc_and_maps_back_to_the_image():
    model = tiny().eval()
    image = np.zeros((96, 128, 3), np.uint8)  # letterboxed at scale 0.5, 8 px of padding on top and bottom
    batch, metas = model.preprocess([image, image])
    with torch.no_grad():
        outputs = {k: v.clone() for k, v in model(batch).items()}
    outputs["cls_logits"].fill_(-10.0)
    picks = {0: ([4.0, 4.0, 40.0, 60.0], 3.0), 1: ([5.0, 5.0, 41.0, 60.0], 2.0),  # IoU 0.95: suppressed
             5: ([30.0, 10.0, 60.0, 50.0], 0.0), 7: ([0.0, 0.0, 20.0, 20.0], -2.5)}  # score 0.076 < 0.1
    for point, (box, logit) in picks.items():
        outputs["boxes"][0, point] = torch.tensor(box)
        outputs["cls_logits"][0, point] = logit
    outputs["keypoint_logits"][0, 5] = 0.0
    poses = model.decode(outputs, metas)
    assert len(poses) == 2 and len(poses[1]) == 0 and len(poses[0]) == 2
    np.testing.assert_allclose(poses[0].scores, [1 / (1 + math.exp(-3)), 0.5], rtol=1e-6)
    np.testing.assert_allclose(poses[0].keypoint_scores[1], np.full(17, 0.5), rtol=1e-6)

    def to_image(xy):  # inverse of the letterbox: x = 2 x_in + 0.5, y = 2 y_in - 15.5
        return np.stack([2 * xy[..., 0] + 0.5, 2 * xy[..., 1] - 15.5], -1)

    kept = torch.tensor([0, 5])
    with torch.no_grad():
        keypoints = model.head.dcc(outputs["pose_vectors"][0, kept], outputs["boxes"][0, kept],
                                   outputs["priors"][kept, :2])[0].numpy()
    np.testing.assert_allclose(poses[0].keypoints, to_image(keypoints), atol=1e-3)
    corners = to_image(np.array([[4.0, 4.0], [40.0, 60.0], [30.0, 10.0], [60.0, 50.0]])).reshape(2, 4)
    np.testing.assert_allclose(poses[0].boxes, np.clip(corners, 0, [128, 96, 128, 96]), atol=1e-4)


def test_decode_without_metas_stays_in_input_pixels_and_leaves_training_mode_alone():
    model = tiny().train()
    with torch.no_grad():
        outputs = model(torch.zeros(1, 3, 64, 64))
    outputs["cls_logits"].fill_(-10.0)
    outputs["cls_logits"][0, 3] = 4.0
    outputs["boxes"][0, 3] = torch.tensor([10.0, 20.0, 30.0, 60.0])
    running = model.head.dcc.pose_to_kpts[1].running_mean.clone()
    poses = model.decode(outputs)
    assert len(poses[0]) == 1 and model.head.dcc.training
    np.testing.assert_allclose(poses[0].boxes[0], [10, 20, 30, 60], atol=1e-5)
    assert torch.equal(model.head.dcc.pose_to_kpts[1].running_mean, running)
    with pytest.raises(InputError, match="metas"):
        model.decode(outputs, {"matrix": np.zeros((2, 2, 3)), "image_size": np.zeros((2, 2))})


def test_for_inference_is_a_fused_copy_with_the_same_outputs():
    model = tiny()
    randomise_batchnorms(model, seed=3)
    model.eval()
    images = torch.rand(2, 3, 64, 64) * 255
    deployed = model.for_inference()
    with torch.no_grad():
        dense, fused = model(images), deployed(images)
    assert "proxy_keypoints" in dense and "proxy_keypoints" not in fused
    for key in ("cls_logits", "boxes", "keypoint_logits", "pose_vectors", "priors"):
        torch.testing.assert_close(fused[key], dense[key], atol=1e-3, rtol=1e-3)
    assert all(b.fused for b in deployed.modules() if isinstance(b, RepVGGBlock))
    assert not any(b.fused for b in model.modules() if isinstance(b, RepVGGBlock))  # the original is untouched
    points, boxes = torch.arange(4), dense["boxes"][0, :4]
    with torch.no_grad():
        expected = model.head.dcc(dense["pose_vectors"][0, points], boxes, dense["priors"][points, :2])[0]
        got = deployed.head.dcc(dense["pose_vectors"][0, points], boxes, dense["priors"][points, :2])[0]
    torch.testing.assert_close(got, expected, atol=1e-3, rtol=1e-4)
    assert len(deployed.decode(fused)) == 2


@pytest.mark.slow
def test_tiny_rtmo_learns_a_fixed_batch():
    torch.manual_seed(0)
    model = tiny().train()
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 64, 64, generator=g) * 255
    boxes = torch.tensor([[[5.0, 10.0, 30.0, 55.0], [35.0, 5.0, 60.0, 50.0]], [[15.0, 15.0, 50.0, 60.0], [0, 0, 0, 0]]])
    targets = people_targets(boxes, torch.tensor([[True, True], [True, False]]))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    history = []
    for _ in range(30):
        losses = model.loss(model(images), targets)
        loss = sum(losses.values())
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 10.0)
        optimizer.step()
        history.append({k: v.item() for k, v in losses.items()} | {"total": loss.item()})
    first, last = np.mean([h["total"] for h in history[:3]]), np.mean([h["total"] for h in history[-3:]])
    assert last < 0.8 * first, (first, last)
    assert history[-1]["loss_bbox"] < history[0]["loss_bbox"] and history[-1]["loss_oks"] < history[0]["loss_oks"]
    # the class branch leaves its 0.01 prior where the people are, and only there (batch statistics:
    # after 30 steps at BN momentum 0.03 the running ones still lag)
    with torch.no_grad():
        outputs = model(images)
    scores, points = outputs["cls_logits"].sigmoid(), outputs["priors"][:, :2]
    inside = ((points[None, :, None] > boxes[:, None, :, :2]) & (points[None, :, None] < boxes[:, None, :, 2:])).all(-1)
    inside = (inside & targets["mask"][:, None]).any(-1)  # (B, A)
    assert scores[inside].mean() > 3 * scores[~inside].mean(), (scores[inside].mean(), scores[~inside].mean())


@pytest.mark.slow
def test_onnx_export_matches_eager():
    ort = pytest.importorskip("onnxruntime")
    model = tiny().for_inference()
    images = torch.rand(2, 3, 64, 64) * 255
    names = ["cls_logits", "boxes", "keypoint_logits", "pose_vectors", "priors"]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes on shape arithmetic
        torch.onnx.export(model, (images,), buffer, opset_version=17, dynamo=False, input_names=["images"],
                          output_names=names)
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got = dict(zip(names, session.run(None, {"images": images.numpy()})))
    with torch.no_grad():
        expected = model(images)
    for name in names:
        np.testing.assert_allclose(got[name], expected[name].numpy(), atol=1e-4, rtol=1e-4)

    # the per-person DCC exports on its own: pose vectors, boxes, grid points -> keypoints
    n = 3
    args = (expected["pose_vectors"][0, :n], expected["boxes"][0, :n], expected["priors"][:n, :2])
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.head.dcc, args, buffer, opset_version=17, dynamo=False,
                          input_names=["pose_vectors", "boxes", "grids"])
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    keypoints = session.run(None, dict(zip(["pose_vectors", "boxes", "grids"], (a.numpy() for a in args))))[0]
    with torch.no_grad():
        np.testing.assert_allclose(keypoints, model.head.dcc(*args)[0].numpy(), atol=1e-3, rtol=1e-4)


def test_small_variants_centre_the_assignment_on_the_keypoints():
    # the official COCO/body7 configs set use_keypoints_for_center for rtmo-t/s only
    assert tiny().assigner.use_keypoints_for_center
    assert not tiny(use_keypoints_for_center=False).assigner.use_keypoints_for_center
    assert not create_model("rtmo-m").assigner.use_keypoints_for_center
