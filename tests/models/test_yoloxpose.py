"""YOLOX-Pose and the one-stage helpers: official sizes and layout, SimOTA, OKS loss, decoding back
through the letterbox, NMS and the detection cap, learning, export."""

import io
import math

import numpy as np
import pytest
import torch

from posekit.bench.complexity import count_gmacs, count_params
from posekit.core.errors import ConfigError, InputError
from posekit.core.geometry import oks as coco_oks
from posekit.core.geometry import xywh_to_xyxy
from posekit.core.skeleton import SKELETONS
from posekit.data.synth import render_image
from posekit.data.transforms import apply_affine, letterbox
from posekit.models import create_model, list_models, model_card
from posekit.models.onestage import best_per_image, grid_points, read_targets
from posekit.models.yoloxpose import OKSLoss, SimOTAAssigner, YOLOXPose

COCO_SIGMAS = torch.tensor(SKELETONS["coco"].sigmas)
# Measured from the official mmpose configs (reference/official_sizes_and_keys.md).
OFFICIAL = {  # name: (parameters, state-dict keys, state-dict elements, GMACs at the card's input)
    "yoloxpose-tiny": (6_045_339, 547, 6_065_074, 4.374),
    "yoloxpose-s": (10_729_963, 547, 10_756_242, 18.267),
    "yoloxpose-m": (29_296_203, 691, 29_344_234, 47.868),
    "yoloxpose-l": (61_271_339, 835, 61_346_882, 97.404),
}



def tiny(**overrides) -> YOLOXPose:
    return create_model("yoloxpose-s", **{"widen_factor": 0.125, "input_size": (128, 128), **overrides})


def dense_outputs(model: YOLOXPose, batch: int = 1) -> dict[str, torch.Tensor]:
    """Outputs shaped as the model's, with nothing detected: every score ~ 2e-9."""
    priors = grid_points([(model.input_size[0] // s, model.input_size[1] // s) for s in model.config.strides],
                         model.config.strides)
    a, k = len(priors), model.num_keypoints
    return {"cls_logits": torch.full((batch, a), -10.0), "obj_logits": torch.full((batch, a), -10.0),
            "boxes": torch.zeros(batch, a, 4), "keypoints": torch.zeros(batch, a, k, 2),
            "keypoint_logits": torch.zeros(batch, a, k), "priors": priors}


def place(outputs, image, index, box, score=0.9, keypoints=None, keypoint_logits=None):
    """Make prediction `index` of `image` a detection with this box, score and keypoints."""
    logit = math.log(math.sqrt(score) / (1 - math.sqrt(score)))
    outputs["cls_logits"][image, index] = logit
    outputs["obj_logits"][image, index] = logit
    outputs["boxes"][image, index] = torch.as_tensor(box, dtype=torch.float32)
    if keypoints is not None:
        outputs["keypoints"][image, index] = torch.as_tensor(keypoints, dtype=torch.float32)
    if keypoint_logits is not None:
        outputs["keypoint_logits"][image, index] = torch.as_tensor(keypoint_logits, dtype=torch.float32)


# --------------------------------------------------------------------------- sizes and layout

def test_variants_are_registered_with_cards():
    assert {"yoloxpose-tiny", "yoloxpose-s", "yoloxpose-m", "yoloxpose-l"} <= set(list_models(family="yoloxpose"))
    card = model_card("yoloxpose-s")
    assert card.paradigm == "one-stage" and card.input_size == (640, 640) and card.coco_ap == 64.1
    assert model_card("yoloxpose-tiny").input_size == (416, 416)
    assert "yoloxpose_l_8xb32-300e_coco-640" in model_card("yoloxpose-l").checkpoint_url


@pytest.mark.parametrize("name", list(OFFICIAL))
def test_parameters_and_state_dict_size_equal_the_official_model(name):
    params, num_keys, elements, _ = OFFICIAL[name]
    model = create_model(name).for_inference()
    assert count_params(model) == params
    assert abs(count_params(model) / 1e6 / model_card(name).params_m - 1) < 0.005
    state = model.state_dict()
    assert len(state) == num_keys and sum(v.numel() for v in state.values()) == elements


def test_state_dict_layout_of_yoloxpose_s():
    state = {k: tuple(v.shape) for k, v in create_model("yoloxpose-s").state_dict().items()}
    prefixes = {}
    for key in state:
        prefix = ".".join(key.split(".")[:2])
        prefixes[prefix] = prefixes.get(prefix, 0) + 1
    assert prefixes == {"backbone.stem": 6, "backbone.stage1": 36, "backbone.stage2": 60, "backbone.stage3": 60,
                        "backbone.stage4": 48, "neck.reduce_layers": 12, "neck.top_down_blocks": 60,
                        "neck.downsamples": 12, "neck.bottom_up_blocks": 60, "neck.out_convs": 18,
                        "head.head_module": 174, "head.loss_oks": 1}
    expected = {"backbone.stem.conv.conv.weight": (32, 12, 3, 3), "backbone.stem.conv.bn.running_var": (32,),
                "backbone.stem.conv.bn.num_batches_tracked": (), "backbone.stage1.0.conv.weight": (64, 32, 3, 3),
                "head.head_module.out_kpt_vis.1.weight": (17, 128, 1, 1), "head.head_module.out_kpt_vis.2.bias": (17,),
                "head.head_module.conv_pose.2.3.conv.weight": (128, 128, 3, 3),
                "head.head_module.out_kpt.0.weight": (34, 128, 1, 1), "head.head_module.out_obj.1.bias": (1,),
                "head.loss_oks.sigmas": (17,)}
    assert {k: state.get(k) for k in expected} == expected
    assert "head.head_module.conv_pose.0.4.conv.weight" not in state  # 2 x stacked_convs = 4 pose convs


def test_batchnorm_is_the_official_momentum_0_03_eps_1e_3():
    bns = [m for m in tiny().modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bns and all(bn.eps == 1e-3 and bn.momentum == 0.03 for bn in bns)


@pytest.mark.slow
def test_gmacs_equal_the_official_count():
    # s only: tiny, m and l give 4.374, 47.868, 97.404 as well (the other variants' structure is
    # pinned by their exact parameter and state-dict counts above)
    assert round(count_gmacs(create_model("yoloxpose-s").for_inference(), (640, 640)), 3) == 18.267
    assert model_card("yoloxpose-s").gmacs == 18.267


def test_bad_configs_are_config_errors():
    with pytest.raises(ConfigError, match="multiple of 32"):
        create_model("yoloxpose-s", input_size=(100, 128))
    with pytest.raises(ConfigError, match="unknown YOLOX-Pose option"):
        create_model("yoloxpose-s", widen=0.5)
    with pytest.raises(ConfigError, match="loss weight"):
        create_model("yoloxpose-s", loss_weights={"loss_oks": 30.0})
    assert create_model("yoloxpose-s", widen_factor=0.125, loss_weights={"loss_kpt": 10.0}).loss_weights == {
        "loss_obj": 1.0, "loss_bbox": 5.0, "loss_kpt": 10.0, "loss_vis": 1.0, "loss_cls": 1.0, "loss_bbox_aux": 1.0}


# --------------------------------------------------------------------------- forward

def test_forward_decodes_boxes_and_keypoints_from_the_grid():
    model = tiny().eval()
    heads = model.head.head_module
    for convs, bias in [(heads.out_bbox, [0.5, -0.25, math.log(2.0), 0.0]), (heads.out_kpt, [1.0, 2.0] * 17)]:
        for conv in convs:
            torch.nn.init.zeros_(conv.weight)
            conv.bias.data = torch.tensor(bias)
    out = model(torch.rand(2, 3, 128, 96) * 255)
    a = 16 * 12 + 8 * 6 + 4 * 3
    assert out["priors"].shape == (a, 3) and out["keypoints"].shape == (2, a, 17, 2)
    assert out["cls_logits"].shape == out["obj_logits"].shape == (2, a) and out["keypoint_logits"].shape == (2, a, 17)
    x, y, s = out["priors"][200]  # a stride-16 point: offset 0, (col * s, row * s)
    assert s == 16 and (x, y) == (16 * ((200 - 192) % 6), 16 * ((200 - 192) // 6))
    cx, cy, w, h = x + 0.5 * s, y - 0.25 * s, 2 * s, s
    torch.testing.assert_close(out["boxes"][1, 200], torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]))
    torch.testing.assert_close(out["keypoints"][0, 200, 5], torch.stack([x + s, y + 2 * s]))


def test_forward_sees_bgr():
    model = tiny().eval()
    rgb = torch.rand(1, 3, 64, 64) * 255
    conv = model.backbone.stem.conv.conv
    seen = []
    handle = conv.register_forward_hook(lambda m, inputs, output: seen.append(inputs[0]))
    model(rgb)
    handle.remove()
    torch.testing.assert_close(seen[0][:, 0:3], rgb[:, [2, 1, 0], ::2, ::2])  # Focus: top-left first


def test_forward_traces_and_exports_to_onnx():
    torch.manual_seed(0)
    model = tiny(input_size=(64, 64)).eval()
    images = torch.rand(1, 3, 64, 64) * 255
    eager = model(images)
    import onnxruntime as ort
    buffer = io.BytesIO()
    torch.onnx.export(model, (images,), buffer, dynamo=False, opset_version=17, input_names=["images"],
                      output_names=list(eager))
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    for ours, theirs in zip(eager.values(), session.run(None, {"images": images.numpy()})):
        np.testing.assert_allclose(theirs, ours.detach().numpy(), rtol=1e-4, atol=1e-4)


# --------------------------------------------------------------------------- SimOTA

def _far(a, k=17):
    """Predictions that overlap nobody: empty IoU, keypoints hundreds of pixels away."""
    return torch.tensor([300.0, 300.0, 301.0, 301.0]).repeat(a, 1), torch.full((a, k, 2), 400.0)


def test_simota_assigns_the_known_positives():
    priors = grid_points([(8, 8)], [8])  # (64, 3) points (8 col, 8 row), stride 8
    index = {(int(x), int(y)): i for i, (x, y, _) in enumerate(priors.tolist())}
    rng = np.random.default_rng(0)
    b, a = 3, len(priors)
    far_boxes, far_kpts = _far(a)
    boxes, kpts = far_boxes[None].repeat(b, 1, 1), far_kpts[None].repeat(b, 1, 1, 1)  # (B, A, 4), (B, A, K, 2)

    # image 0: one person; three points predict it exactly, one (24, 16) roughly (OKS ~ 0.5),
    # and (56, 56), outside the box and the centre region, exactly but is no candidate
    person = torch.tensor([8.0, 8.0, 40.0, 40.0])
    person_kpts = torch.tensor(rng.uniform(12, 36, (17, 2)), dtype=torch.float32)
    for xy in [(16, 16), (24, 24), (32, 24), (56, 56)]:
        boxes[0, index[xy]], kpts[0, index[xy]] = person, person_kpts
    boxes[0, index[(24, 16)]], kpts[0, index[(24, 16)]] = person, person_kpts + 2.5
    # image 1: A (index 1) and B (index 0) overlap; only (32, 32) predicts anything, A exactly,
    # so both take it as their one positive and it goes to A, which it costs less
    a_box = torch.tensor([16.0, 16.0, 48.0, 48.0])
    a_kpts = torch.tensor(rng.uniform(20, 44, (17, 2)), dtype=torch.float32)
    boxes[1, index[(32, 32)]], kpts[1, index[(32, 32)]] = a_box, a_kpts
    # image 2: padding only

    gt_boxes = torch.zeros(b, 2, 4)
    gt_kpts = torch.zeros(b, 2, 17, 2)
    gt_boxes[0, 0], gt_kpts[0, 0] = person, person_kpts
    gt_boxes[1, 0], gt_kpts[1, 0] = a_box + 2, a_kpts + 2
    gt_boxes[1, 1], gt_kpts[1, 1] = a_box, a_kpts
    gt_boxes[2], gt_kpts[2] = person, person_kpts  # present but masked out
    mask = torch.tensor([[True, False], [True, True], [False, False]])
    visible = torch.ones(b, 2, 17)
    areas = torch.full((b, 2), 1024.0)

    assigner = SimOTAAssigner(COCO_SIGMAS)
    scores = torch.full((b, a), 0.5)
    result = assigner(priors, scores, boxes, kpts, gt_boxes, gt_kpts, visible, areas, mask)

    expected_fg = torch.zeros(b, a, dtype=torch.bool)
    expected_fg[0, [index[(16, 16)], index[(24, 24)], index[(32, 24)]]] = True
    expected_fg[1, index[(32, 32)]] = True
    assert torch.equal(result.foreground, expected_fg)
    assert result.gt_index[1, index[(32, 32)]] == 1  # A, not B
    assert (result.gt_index[0][expected_fg[0]] == 0).all()
    torch.testing.assert_close(result.overlap[expected_fg], torch.ones(4), atol=1e-5, rtol=0)
    assert (result.overlap[~expected_fg] == 0).all()


def test_simota_candidates_are_inside_box_or_centre_region():
    assigner = SimOTAAssigner(COCO_SIGMAS, center_radius=2.5)
    priors = torch.tensor([[20.0, 20.0, 8.0], [45.0, 20.0, 8.0], [20.0, 41.0, 8.0], [100.0, 100.0, 8.0]])
    # box 0..40 x 0..40, centre (20, 20), centre region +-20: point 1 only in the region (x = 45 > 40
    # is outside the box, |45 - 20| = 25 > 20 is outside the region too); point 2 in neither
    gt = torch.tensor([[[0.0, 0.0, 40.0, 40.0], [0.0, 0.0, 200.0, 200.0]]])
    candidate, in_both = assigner.candidates(priors, gt, torch.tensor([[True, False]]))
    assert candidate[0].tolist() == [True, False, False, False]
    assert in_both[0, :, 0].tolist() == [True, False, False, False] and not in_both[0, :, 1].any()
    # box 0..40 x 0..80, centre (20, 40): point 2 (20, 41) is inside both; point 0 (20, 20) is inside
    # the box but on the edge of the centre region (|20 - 40| = 20 is not < 20): a candidate, not in both
    gt_tall = torch.tensor([[[0.0, 0.0, 40.0, 80.0]]])
    candidate, in_both = assigner.candidates(priors, gt_tall, torch.tensor([[True]]))
    assert candidate[0].tolist() == [True, False, True, False]
    assert in_both[0, :, 0].tolist() == [False, False, True, False]

    # RTMO's option: the region around the labelled keypoints' mean (20, 20) instead of (20, 40)
    by_keypoints = SimOTAAssigner(COCO_SIGMAS, use_keypoints_for_center=True)
    kpts = torch.tensor([[[[10.0, 10.0], [30.0, 30.0], [500.0, 500.0]]]])  # the third is not labelled
    visible = torch.tensor([[[1.0, 1.0, 0.0]]])
    _, in_both = by_keypoints.candidates(priors, gt_tall, torch.tensor([[True]]), kpts, visible)
    assert in_both[0, :, 0].tolist() == [True, False, False, False]
    _, in_both = by_keypoints.candidates(priors, gt_tall, torch.tensor([[True]]), kpts, torch.zeros(1, 1, 3))
    assert in_both[0, :, 0].tolist() == [False, False, True, False]  # nothing labelled: the box centre


# --------------------------------------------------------------------------- losses

def test_oks_loss_on_a_hand_case():
    target = torch.tensor(np.random.default_rng(1).uniform(0, 50, (1, 17, 2)), dtype=torch.float32)
    pred = target.clone()
    pred[0, 0, 0] += 1.0   # nose one pixel off: exp(-1 / (2 * 100 * (2 * 0.026)^2)) = exp(-1.8491)
    pred[0, 16, 1] += 30.0  # right ankle far off, but not labelled: it must not count
    weights = torch.ones(1, 17)
    weights[0, 16] = 0
    loss = OKSLoss(COCO_SIGMAS)(pred, target, weights, torch.tensor([100.0]))
    expected = 1 - (15 + math.exp(-1 / (2 * 100 * 0.052 ** 2))) / 16
    assert loss.shape == (1,) and abs(loss.item() - expected) < 1e-6
    # the same number as COCO's OKS (posekit.core.geometry.oks, the evaluation's definition)
    coco = coco_oks(pred[0][None].numpy(), target.numpy(), weights.numpy() > 0, np.array([100.0]),
                    SKELETONS["coco"].sigmas_array)
    assert abs(1 - coco[0, 0] - loss.item()) < 1e-6


def _targets(anns, size):
    m = max([len(a) for a in anns] + [1])
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


@pytest.mark.slow
def test_tiny_model_learns_a_fixed_batch():
    torch.manual_seed(0)
    rng = np.random.default_rng(1)
    images, anns = [], []
    while len(images) < 2:
        image, ann = render_image(rng, size=128, max_people=3)
        if len(ann):
            images.append(image)
            anns.append(ann)
    batch, targets = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float(), _targets(anns, 128)
    model = tiny().train()
    optimiser = torch.optim.AdamW(model.parameters(), lr=2e-3)
    totals = []
    for _ in range(30):
        losses = model.loss(model(batch), targets)
        total = sum(losses.values())
        optimiser.zero_grad()
        total.backward()
        optimiser.step()
        totals.append(total.item())
    assert set(losses) == {"loss_obj", "loss_bbox", "loss_kpt", "loss_vis", "loss_cls"}
    assert all(math.isfinite(t) for t in totals)
    assert np.mean(totals[-3:]) < 0.75 * totals[0]
    assert losses["loss_kpt"].item() < 30.0  # weighted 30 x mean(1 - OKS): OKS above 0 on average


def test_loss_without_people_and_with_the_aux_term():
    model = tiny(use_aux_loss=True).train()
    out = model(torch.rand(2, 3, 128, 128) * 255)
    empty = {"boxes": torch.zeros(2, 1, 4), "keypoints": torch.zeros(2, 1, 17, 2), "visible": torch.zeros(2, 1, 17),
             "areas": torch.zeros(2, 1), "mask": torch.zeros(2, 1, dtype=torch.bool)}
    losses = model.loss(out, empty)
    assert set(losses) == {"loss_obj", "loss_bbox", "loss_kpt", "loss_vis", "loss_cls", "loss_bbox_aux"}
    assert losses["loss_obj"].item() > 0  # every point is pushed towards background
    assert all(losses[k].item() == 0 for k in ("loss_bbox", "loss_kpt", "loss_vis", "loss_cls", "loss_bbox_aux"))
    sum(losses.values()).backward()
    assert model.head.head_module.out_obj[0].bias.grad is not None


def test_bad_targets_are_input_errors():
    model = tiny()
    out = dense_outputs(model, 1)
    with pytest.raises(InputError, match="lack"):
        model.loss(out, {"boxes": torch.zeros(1, 1, 4)})
    bad = {"boxes": torch.zeros(1, 2, 4), "keypoints": torch.zeros(1, 2, 14, 2), "visible": torch.zeros(1, 2, 14),
           "areas": torch.zeros(1, 2), "mask": torch.ones(1, 2, dtype=torch.bool)}
    with pytest.raises(InputError, match="keypoints"):
        read_targets(bad, 17)


# --------------------------------------------------------------------------- decoding

def test_decode_maps_back_through_the_letterbox_exactly():
    model = tiny()
    image = np.zeros((60, 100, 3), np.uint8)  # wide: letterboxed with bands above and below
    batch, metas = model.preprocess([image])
    assert batch.shape == (1, 3, 128, 128)
    M = metas["matrix"][0]
    np.testing.assert_array_equal(M, letterbox(image, 128)[1])
    assert M[1, 2] > 20 and metas["image_size"].tolist() == [[60, 100]]

    kpts_image = np.random.default_rng(2).uniform([0, 0], [99, 59], (17, 2))
    box_image = np.array([10.0, 5.0, 90.0, 55.0])
    out = dense_outputs(model)
    place(out, 0, 40, apply_affine(box_image.reshape(2, 2), M).reshape(4), score=0.8,
          keypoints=apply_affine(kpts_image, M), keypoint_logits=torch.linspace(-2, 2, 17))
    poses = model.decode(out, metas)
    assert len(poses) == 1 and len(poses[0]) == 1
    np.testing.assert_allclose(poses[0].keypoints[0], kpts_image, atol=1e-3)
    np.testing.assert_allclose(poses[0].boxes[0], box_image, atol=1e-3)
    np.testing.assert_allclose(poses[0].scores, [0.8], atol=1e-6)
    np.testing.assert_allclose(poses[0].keypoint_scores[0], torch.linspace(-2, 2, 17).sigmoid().numpy(), atol=1e-6)


def test_decode_of_an_image_without_people_is_empty():
    model = tiny()
    _, metas = model.preprocess([np.full((80, 128, 3), 114, np.uint8)] * 2)
    out = dense_outputs(model, 2)
    place(out, 1, 7, [10, 10, 60, 60], score=0.5)
    poses = model.decode(out, metas)
    assert len(poses[0]) == 0 and poses[0].keypoints.shape == (0, 17, 2) and poses[0].boxes.shape == (0, 4)
    assert len(poses[1]) == 1
    with pytest.raises(InputError, match="metas"):
        model.decode(out, {"matrix": metas["matrix"][:1], "image_size": metas["image_size"][:1]})


def test_box_nms_per_image():
    model = tiny()
    out = dense_outputs(model, 2)
    for image in (0, 1):
        place(out, image, 1, [0, 0, 40, 40], score=0.9)
        place(out, image, 2, [2, 2, 42, 42], score=0.8)    # IoU 0.82 > 0.65 with the first: suppressed
        place(out, image, 3, [20, 0, 60, 40], score=0.7)   # IoU 0.33: kept
    poses = model.decode(out)  # without metas: input pixels
    for p in poses:
        np.testing.assert_allclose(p.scores, [0.9, 0.7], atol=1e-6)
        np.testing.assert_allclose(p.boxes, [[0, 0, 40, 40], [20, 0, 60, 40]], atol=1e-4)


def test_more_people_than_max_per_img_keeps_the_best():
    model = tiny(max_per_img=3)
    out = dense_outputs(model, 2)
    scores = [0.3, 0.9, 0.5, 0.8, 0.6]
    for i, score in enumerate(scores):  # five separate people in image 0, two in image 1
        place(out, 0, 10 + i, [25 * i, 0, 25 * i + 20, 20], score=score)
    place(out, 1, 3, [0, 0, 20, 20], score=0.4)
    place(out, 1, 4, [50, 50, 70, 70], score=0.45)
    poses = model.decode(out)
    np.testing.assert_allclose(poses[0].scores, [0.9, 0.8, 0.6], atol=1e-6)
    np.testing.assert_allclose(poses[0].boxes[:, 0], [25, 75, 100], atol=1e-4)
    np.testing.assert_allclose(poses[1].scores, [0.45, 0.4], atol=1e-6)


# --------------------------------------------------------------------------- one-stage helpers

def test_grid_points_and_best_per_image():
    points = grid_points([(2, 3), (1, 2)], [8, 16], offset=0.5)
    assert points.tolist()[:4] == [[4, 4, 8], [12, 4, 8], [20, 4, 8], [4, 12, 8]]
    assert points.tolist()[-1] == [24, 8, 16]
    image = torch.tensor([1, 0, 1, 1, 0, 1])
    score = torch.tensor([0.1, 0.2, 0.9, 0.5, 0.3, 0.7])
    assert best_per_image(image, score, 3, 2).tolist() == [4, 1, 2, 5]


def test_preprocess_rejects_what_is_not_an_rgb_image():
    with pytest.raises(InputError, match="RGB"):
        tiny().preprocess([np.zeros((20, 30), np.uint8)])
    with pytest.raises(InputError, match="no images"):
        tiny().preprocess([])
