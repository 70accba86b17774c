"""ER-Pose: sizes, keypoint-driven assignment, losses, NMS-free decode, training, export."""

import io
import math

import numpy as np
import pytest
import torch

from posekit.bench.complexity import count_params
from posekit.core.errors import ConfigError, InputError
from posekit.core.geometry import xywh_to_xyxy
from posekit.data.synth import render_image
from posekit.data.transforms import apply_affine
from posekit.eval.tae import image_alignment, task_alignment_error
from posekit.models import create_model, model_card
from posekit.models.erpose import KeypointDrivenAssigner, keypoint_extent, log_oks


# Trunk + SAH, as built here; the paper's table I says 2.53 / 9.69 / 23.36 / 39.95 M.
PARAMS = {"erpose-n": 2_527_364, "erpose-s": 9_689_454, "erpose-m": 23_041_854, "erpose-l": 39_456_284}


def tiny(name="erpose-s", **overrides):
    return create_model(name, width=0.0625, input_size=64, **overrides)


# --------------------------------------------------------------------------- architecture

@pytest.mark.parametrize("name", sorted(PARAMS))
def test_inference_parameters_are_within_three_percent_of_the_paper(name):
    model = create_model(name)
    inference = model.for_inference()
    params = count_params(inference)
    assert params == PARAMS[name]
    assert abs(params / (model_card(name).params_m * 1e6) - 1) < 0.03
    assert list(inference.heads) == ["sah"] and list(model.heads) == ["mah", "sah"]  # self is untouched
    assert count_params(model) > params  # MAH is training-only


def test_levels_follow_table_v_and_there_is_no_box_branch():
    n, s = tiny("erpose-n").eval(), tiny("erpose-s").eval()
    assert n.config.strides == (16, 32) and s.config.strides == (8, 16, 32)
    images = torch.rand(2, 3, 64, 64) * 255
    with torch.no_grad():
        out_n, out_s = n(images), s(images)
    assert {k: tuple(v.shape) for k, v in out_n.items()} == {
        "mah_conf": (2, 20), "mah_keypoints": (2, 20, 17, 3), "sah_conf": (2, 20), "sah_keypoints": (2, 20, 17, 3)}
    assert out_s["sah_keypoints"].shape == (2, 84, 17, 3)
    assert not any("box" in key for key in s.state_dict())
    assert s.state_dict()["heads.sah.conf.0.0.0.conv.weight"].shape == (16, 1, 3, 3)  # depthwise
    assert s.state_dict()["heads.sah.kpt.2.2.weight"].shape == (51, 51, 1, 1)


def test_keypoints_are_offsets_from_the_cell_centre_in_strides():
    model = tiny("erpose-n").eval()
    with torch.no_grad():
        for branch in model.heads["sah"].kpt:
            branch[-1].weight.zero_()
            branch[-1].bias.zero_()
            branch[-1].bias[0], branch[-1].bias[1] = 1.0, -0.5  # keypoint 0: (+1, -0.5) strides
        out = model(torch.zeros(1, 3, 64, 64))["sah_keypoints"][0]  # (20, 17, 3)
    # cell 5 is row 1, column 1 of the 4 x 4 stride-16 level: centre (24, 24); cell 16 the first of stride 32.
    assert torch.allclose(out[5, 0, :2], torch.tensor([24.0 + 16, 24.0 - 8]))
    assert torch.allclose(out[5, 1, :2], torch.tensor([24.0, 24.0]))
    assert torch.allclose(out[16, 0, :2], torch.tensor([16.0 + 32, 16.0 - 16]))


# --------------------------------------------------------------------------- assignment

POINTS = torch.tensor([[4.0, 4.0, 8.0], [12.0, 4.0, 8.0], [20.0, 4.0, 8.0]])  # three cells on a row
GT = torch.tensor([[[2.0, 2.0], [6.0, 6.0]], [[18.0, 2.0], [22.0, 6.0]]])  # (M=2, K=2, 2)
BOXES = torch.tensor([[0.0, 0.0, 16.0, 8.0], [8.0, 0.0, 24.0, 8.0]])  # person 0: cells 0, 1; person 1: cells 1, 2
CONSTANTS = torch.tensor([0.5, 0.5])  # s^2 = 128, so the OKS term of a keypoint is exp(-d^2 / 64)


def assign(cell1_pose, logits=(0.0, 0.0, 0.0), topk=2, alpha=0.5, beta=6.0):
    """Cells 0 and 2 predict persons 0 and 1 exactly; cell 1 predicts `cell1_pose`. Image 1 is padding."""
    pred = torch.stack([GT[0], cell1_pose, GT[1]])[None].repeat(2, 1, 1, 1)  # (B=2, A=3, K, 2)
    conf = torch.tensor(logits)[None].repeat(2, 1)
    mask = torch.tensor([[True, True], [False, False]])
    return KeypointDrivenAssigner(topk, alpha, beta)(conf, pred, POINTS, GT[None].repeat(2, 1, 1, 1),
                                                     torch.full((2, 2, 2), 2.0), BOXES[None].repeat(2, 1, 1), mask,
                                                     CONSTANTS)


def test_assignment_hand_case_with_a_cell_claimed_by_two_people():
    # Each person's top 2 are both its candidates, so cell 1 is claimed twice; it predicts person 1
    # off by 2 px (OKS exp(-1/16)) and person 0 off by 18 px: person 1 wins it.
    shift = torch.tensor([2.0, 0.0])
    assigned = assign(GT[1] + shift)
    assert assigned.gt_index[0].tolist() == [0, 1, 1]
    assert assigned.foreground[0].tolist() == [True, True, True]
    # Soft targets: score / the person's best score x the person's best OKS (1 here): exp(6 * -1/16).
    assert torch.allclose(assigned.scores[0], torch.tensor([1.0, math.exp(-0.375), 1.0]), atol=1e-5)
    assert assigned.gt_index[1].tolist() == [-1, -1, -1] and assigned.scores[1].sum() == 0
    # The same cell predicting person 0 instead goes to person 0.
    assert assign(GT[0] + shift).gt_index[0].tolist() == [0, 0, 1]


def test_assignment_weighs_confidence_by_alpha_and_beta_zero_ranks_by_confidence_alone():
    # top-1: cells 0 and 1 both predict person 0 exactly; the more confident one is chosen.
    assert assign(GT[0], logits=(0.0, 2.0, 0.0), topk=1).gt_index[0].tolist() == [-1, 0, 1]
    assert assign(GT[0], logits=(2.0, 0.0, 0.0), topk=1).gt_index[0].tolist() == [0, -1, 1]
    # beta = 0 (table VIII): a confident cell that predicts someone else entirely still wins person 0.
    assigned = assign(GT[1], logits=(0.0, 3.0, 4.0), topk=1, beta=0.0)
    assert assigned.gt_index[0].tolist() == [-1, 0, 1] and torch.isfinite(assigned.scores).all()


def test_candidates_small_people_and_unlabelled_people():
    conf = torch.zeros(1, 3)
    pred = GT[0][None, None].repeat(1, 3, 1, 1)
    small = torch.tensor([[[13.0, 1.0, 15.0, 3.0], [0.0, 0.0, 24.0, 8.0]]])  # 2 x 2 px between cells; all cells
    gt = torch.stack([torch.tensor([[13.5, 1.5], [14.5, 2.5]]), GT[0]])[None]
    visible = torch.tensor([[[2.0, 2.0], [0.0, 0.0]]])  # person 1 has no labelled keypoint
    mask = torch.ones(1, 2, dtype=torch.bool)
    assigned = KeypointDrivenAssigner(topk=3)(conf, pred, POINTS, gt, visible, small, mask, CONSTANTS)
    assert assigned.gt_index[0].tolist() == [-1, 0, -1]  # the one cell within half a stride of its centre


def test_log_oks_matches_coco_oks_and_does_not_underflow():
    from posekit.core.geometry import oks

    g = torch.Generator().manual_seed(0)
    pred, gt = torch.rand(1, 4, 3, 2, generator=g) * 30, torch.rand(1, 2, 3, 2, generator=g) * 30
    labelled = torch.tensor([[[True, True, False], [True, True, True]]])
    boxes_area = torch.tensor([[90.0, 300.0]])
    sigmas = np.array([0.1, 0.2, 0.3])
    got = log_oks(pred, gt, labelled, boxes_area, torch.tensor(2 * sigmas, dtype=torch.float32)).exp()[0]  # (2, 4)
    expected = oks(pred[0].numpy(), gt[0].numpy(), labelled[0].numpy(), boxes_area[0].numpy(), sigmas).T
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-4)
    far = log_oks(pred + 1e4, gt, labelled, boxes_area, torch.tensor(2 * sigmas, dtype=torch.float32))
    assert torch.isfinite(far).all() and (far < -1e3).all()  # OKS underflows to 0, its log does not


# --------------------------------------------------------------------------- losses

def _targets(anns, size):
    m = max(len(a) for a in anns)
    t = {"boxes": torch.zeros(len(anns), m, 4), "keypoints": torch.zeros(len(anns), m, 17, 2),
         "visible": torch.zeros(len(anns), m, 17), "areas": torch.zeros(len(anns), m),
         "mask": torch.zeros(len(anns), m, dtype=torch.bool)}
    for i, a in enumerate(anns):
        n = len(a)
        t["boxes"][i, :n] = torch.tensor(xywh_to_xyxy(a.bboxes))
        t["keypoints"][i, :n] = torch.tensor(a.keypoints[..., :2])
        t["visible"][i, :n] = torch.tensor(a.keypoints[..., 2])
        t["areas"][i, :n] = torch.tensor(a.areas)
        t["mask"][i, :n] = True
    return t


def _synthetic_batch(size=128):
    rng = np.random.default_rng(1)
    images, anns = [], []
    while len(images) < 2:
        image, ann = render_image(rng, size=size, max_people=3)
        if len(ann):
            images.append(image)
            anns.append(ann)
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float(), _targets(anns, size)


def _hand_batch():
    boxes = torch.tensor([[[8.0, 6.0, 30.0, 58.0], [36.0, 10.0, 60.0, 54.0]], [[16.0, 8.0, 48.0, 60.0], [0.0] * 4]])
    g = torch.Generator().manual_seed(0)
    size = boxes[..., None, 2:] - boxes[..., None, :2]
    keypoints = boxes[..., None, :2] + torch.rand(2, 2, 17, 2, generator=g) * size  # inside the boxes
    targets = {"boxes": boxes, "keypoints": keypoints, "visible": torch.full((2, 2, 17), 2.0),
               "areas": torch.full((2, 2), 500.0), "mask": torch.tensor([[True, True], [True, False]])}
    return torch.rand(2, 3, 64, 64, generator=g) * 255, targets


def test_loss_terms_for_both_heads_and_empty_images():
    model = tiny()
    images, targets = _hand_batch()
    terms = model.loss(model(images), targets)
    assert set(terms) == {f"loss_{t}_{h}" for t in ("pose", "vis", "conf") for h in ("mah", "sah")}
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())
    assert terms["loss_pose_sah"] <= 15.0  # 15 x mean(1 - SOKS)
    empty = model.loss(model(images), dict(targets, mask=torch.zeros(2, 2, dtype=torch.bool)))
    assert empty["loss_conf_sah"] > 0 and empty["loss_pose_sah"] == 0 and empty["loss_vis_mah"] == 0
    sum(empty.values()).backward()  # no positives still gives a graph
    with pytest.raises(InputError, match="lack"):
        model.loss(model(images), {"boxes": targets["boxes"]})
    with pytest.raises(InputError, match="trained head"):
        model.loss(model.for_inference()(images), targets)


def test_loss_options_change_the_terms_they_name():
    torch.manual_seed(0)
    images, targets = _hand_batch()
    base = tiny()
    outputs = base(images)
    terms = base.loss(outputs, targets)
    for option, changed in [({"pose_loss": "oks"}, "loss_pose_sah"), ({"pose_loss": "laplace"}, "loss_pose_sah"),
                            ({"conf_target": "binary"}, "loss_conf_sah")]:
        other = tiny(**option)
        other.load_state_dict(base.state_dict())
        other_terms = other.loss(outputs, targets)
        assert not torch.allclose(other_terms[changed], terms[changed]), option
        assert torch.allclose(other_terms["loss_vis_sah"], terms["loss_vis_sah"])  # same assignment


def test_sah_learns_on_detached_features_only_beside_mah():
    images, targets = _hand_batch()
    for heads, reaches_trunk in [("both", False), ("sah", True)]:
        model = tiny(heads=heads, inference_head="sah")
        terms = model.loss(model(images), targets)
        sum(v for k, v in terms.items() if k.endswith("_sah")).backward()
        trunk_grad = model.model[0].conv.weight.grad
        assert (trunk_grad is not None and trunk_grad.abs().sum() > 0) == reaches_trunk, heads
        assert model.heads["sah"].kpt[0][0].conv.weight.grad.abs().sum() > 0


@pytest.mark.slow
def test_tiny_model_loss_falls_on_a_fixed_synthetic_batch():
    torch.manual_seed(0)
    images, targets = _synthetic_batch(128)
    model = create_model("erpose-s", width=0.0625, input_size=128).train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    history, pose = [], []
    for _ in range(30):
        terms = model.loss(model(images), targets)
        total = sum(terms.values())
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        history.append(total.item())
        pose.append(terms["loss_pose_sah"].item())
    assert all(math.isfinite(h) for h in history)
    assert np.mean(history[-3:]) < 0.6 * history[0]
    assert np.mean(pose[-3:]) < 0.8 * pose[0]


# --------------------------------------------------------------------------- decode

def _outputs(a=84, k=17):
    return {"sah_conf": torch.full((1, a), -10.0), "sah_keypoints": torch.zeros(1, a, k, 3)}


def test_decode_keeps_overlapping_predictions_no_nms():
    model = tiny().for_inference()
    outputs = _outputs()
    pose = torch.rand(17, 2, generator=torch.Generator().manual_seed(0)) * 40 + 10
    for cell, logit, shift in [(3, 3.0, 0.0), (4, 2.5, 0.5), (50, 0.0, 20.0), (60, -3.0, 5.0)]:
        outputs["sah_conf"][0, cell] = logit
        outputs["sah_keypoints"][0, cell, :, :2] = pose + shift
    outputs["sah_keypoints"][0, :, :, 2] = 4.0
    poses = model.decode(outputs)[0]  # score_thr 0.25
    assert len(poses) == 3  # cells 3 and 4 predict the same person (OKS ~1): both survive
    np.testing.assert_allclose(poses.scores, torch.sigmoid(torch.tensor([3.0, 2.5, 0.0])).numpy(), rtol=1e-6)
    np.testing.assert_allclose(poses.keypoints[1], (pose + 0.5).numpy(), atol=1e-4)
    assert len(model.decode(outputs, score_thr=0.01)[0]) == 4
    assert len(model.decode(outputs, score_thr=0.01, max_det=2)[0]) == 2
    assert [kept.tolist() for kept in model.select(outputs)] == [[3, 4, 50]]


def test_mah_inference_ablation_applies_oks_nms():
    model = tiny(heads="mah", inference_head="mah").for_inference()
    outputs = {key.replace("sah", "mah"): value for key, value in _outputs().items()}
    pose = torch.rand(17, 2, generator=torch.Generator().manual_seed(0)) * 40 + 10
    for cell, logit, shift in [(3, 3.0, 0.0), (4, 2.5, 0.5), (50, 0.0, 30.0)]:
        outputs["mah_conf"][0, cell] = logit
        outputs["mah_keypoints"][0, cell, :, :2] = pose + shift
    assert [kept.tolist() for kept in model.select(outputs)] == [[3, 50]]  # cell 4 duplicates cell 3


def test_decode_maps_back_through_the_letterbox_with_keypoint_boxes():
    model = tiny().for_inference()
    image = np.zeros((50, 100, 3), dtype=np.uint8)  # letterboxed into 64 x 64 with bands
    _, metas = model.preprocess([image])
    matrix = metas["matrix"][0]
    rng = np.random.default_rng(0)
    kpts_image = rng.uniform([10, 5], [60, 45], size=(17, 2))
    kpts_image[0] = [95.0, 48.0]  # an invisible keypoint far off: outside the box
    outputs = _outputs()
    outputs["sah_conf"][0, 7] = 2.0
    outputs["sah_keypoints"][0, 7, :, :2] = torch.tensor(apply_affine(kpts_image, matrix), dtype=torch.float32)
    outputs["sah_keypoints"][0, 7, :, 2] = 3.0
    outputs["sah_keypoints"][0, 7, 0, 2] = -3.0
    poses = model.decode(outputs, metas)[0]
    assert len(poses) == 1
    np.testing.assert_allclose(poses.keypoints[0], kpts_image, atol=1e-3)
    np.testing.assert_allclose(poses.boxes[0], np.r_[kpts_image[1:].min(0), kpts_image[1:].max(0)], atol=1e-3)
    np.testing.assert_allclose(poses.keypoint_scores[0, 1], 1 / (1 + math.exp(-3.0)), rtol=1e-6)
    with pytest.raises(InputError, match="metas"):
        model.decode({k: torch.cat([v, v]) for k, v in outputs.items()}, metas)


def test_keypoint_extent_uses_all_keypoints_when_none_is_visible():
    kpts = torch.tensor([[[0.0, 0.0], [4.0, 2.0], [10.0, 10.0]]])
    assert keypoint_extent(kpts, torch.tensor([[0.9, 0.8, 0.1]])).tolist() == [[0.0, 0.0, 4.0, 2.0]]
    assert keypoint_extent(kpts, torch.tensor([[0.1, 0.1, 0.1]])).tolist() == [[0.0, 0.0, 10.0, 10.0]]


def test_real_forward_decodes_every_cell_without_suppression_and_feeds_tae():
    model = tiny().eval()
    batch, metas = model.preprocess([np.full((40, 80, 3), 128, np.uint8), np.zeros((64, 32, 3), np.uint8)])
    with torch.no_grad():
        outputs = model(batch)  # the training model's outputs: decode reads SAH's
        results = model.decode(outputs, metas, score_thr=0.0)
    assert [len(r) for r in results] == [84, 84]  # neighbouring cells predict near-identical poses at init
    for r, (h, w) in zip(results, metas["image_size"]):
        assert np.all(r.boxes >= 0) and np.all(r.boxes[:, 2] <= w) and np.all(r.boxes[:, 3] <= h)
        assert np.all(np.diff(r.scores) <= 0)
    selected = model.select(outputs, score_thr=0.0, max_det=3)[0].numpy()
    candidates = outputs["sah_keypoints"][0, :, :, :2].numpy()
    gt = candidates[[10, 40]] + 0.5
    alignment = image_alignment(candidates, selected, gt, np.full((2, 17), 2), np.full(2, 400.0),
                                model.skeleton.sigmas_array)
    assert 0.0 <= task_alignment_error([alignment]) <= 1.0
    assert alignment.optimal_index.tolist() == [10, 40]


# --------------------------------------------------------------------------- ablation switches, config, export

def test_box_branch_ablation_with_box_and_keypoint_driven_assignment():
    images, targets = _hand_batch()
    for assignment in ("box", "keypoint"):
        model = tiny("erpose-n", with_box_branch=True, assignment=assignment)
        outputs = model(images)
        assert outputs["sah_boxes"].shape == (2, 20, 4) and outputs["sah_box_logits"].shape == (2, 20, 4, 16)
        terms = model.loss(outputs, targets)
        assert {"loss_box_sah", "loss_dfl_mah"} <= set(terms) and all(torch.isfinite(v) for v in terms.values())
        sum(terms.values()).backward()
    with torch.no_grad():
        out = model.for_inference()(images[:1])
    poses = model.for_inference().decode(out, score_thr=0.0)[0]
    np.testing.assert_allclose(poses.boxes[0], out["sah_boxes"][0, int(out["sah_conf"][0].argmax())].numpy(),
                               atol=1e-4)


def test_bad_configuration_is_a_config_error():
    for overrides, message in [({"widht": 0.5}, "unknown ER-Pose option"),
                               ({"heads": "mah"}, "inference_head"),
                               ({"heads": "all"}, "heads"),
                               ({"assignment": "box"}, "with_box_branch"),
                               ({"levels": (2, 3)}, "levels"),
                               ({"pose_loss": "huber"}, "pose_loss"),
                               ({"input_size": 100}, "multiple of 32")]:
        with pytest.raises(ConfigError, match=message):
            create_model("erpose-n", **overrides)


def test_onnx_export_of_the_inference_model_matches_eager():
    import onnxruntime as ort

    model = tiny("erpose-n").for_inference()
    images = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        expected = model(images)
    buffer = io.BytesIO()
    torch.onnx.export(model, (images,), buffer, opset_version=17, dynamo=False, input_names=["images"],
                      output_names=list(expected))
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images.numpy()})
    assert [o.name for o in session.get_outputs()] == ["sah_conf", "sah_keypoints"]
    for mine, theirs in zip(expected.values(), got):
        np.testing.assert_allclose(theirs, mine.numpy(), rtol=1e-4, atol=1e-3)
