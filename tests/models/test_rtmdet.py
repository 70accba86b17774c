"""RTMDet person detectors: official sizes and key layout, the assigner against a transcription of
mmdet's per-image loop, losses on hand cases, decoding back through the letterbox, and learning."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from posekit.bench.complexity import count_gmacs, count_params
from posekit.core.errors import ConfigError, InputError
from posekit.models import create_model, list_models, model_card
from posekit.models.assigners import DynamicSoftLabelAssigner
from posekit.models.det_losses import giou_loss, quality_focal_loss
from posekit.models.onestage import grid_points as grid_priors, level_sizes
from posekit.models.rtmdet import RTMDet, letterbox_topleft
from posekit.nn.ops import box_iou

# Parameters and state-dict sizes of the official mmdet models (reference/official_sizes_and_keys.md).
OFFICIAL = {"rtmdet-person-nano": (994_423, 698, 1_011_528),
            "rtmdet-person-tiny": (4_873_179, 476, 5_554_615),
            "rtmdet-person-m": (24_663_447, 692, 27_366_343)}



def small(**overrides) -> RTMDet:
    """nano's layout at widen 0.125 and 128x128: 336 grid points (16x16 + 8x8 + 4x4)."""
    return create_model("rtmdet-person-nano", widen_factor=0.125, input_size=(128, 128), **overrides)


# --------------------------------------------------------------------------- structure

@pytest.mark.parametrize("name", sorted(OFFICIAL))
def test_parameters_and_state_dict_match_official(name):
    params, num_keys, elements = OFFICIAL[name]
    model = create_model(name).for_inference()
    card = model_card(name)
    assert count_params(model) == params
    assert abs(count_params(model) / 1e6 - card.params_m) / card.params_m < 0.005
    state = model.state_dict()
    assert len(state) == num_keys and sum(v.numel() for v in state.values()) == elements
    assert card.paradigm == "detector" and model.paradigm == "detector"


def test_key_names_and_shapes_mirror_mmdet():
    nano = create_model("rtmdet-person-nano").state_dict()
    assert nano["backbone.stem.0.conv.weight"].shape == (8, 3, 3, 3)
    assert nano["bbox_head.cls_convs.2.1.depthwise_conv.conv.weight"].shape == (64, 1, 3, 3)
    assert nano["neck.out_convs.0.pointwise_conv.conv.weight"].shape == (64, 64, 1, 1)
    assert nano["bbox_head.rtm_reg.2.weight"].shape == (4, 64, 1, 1)

    m = create_model("rtmdet-person-m")
    state = m.state_dict()
    assert state["bbox_head.cls_convs.0.0.conv.weight"].shape == (192, 192, 3, 3)
    assert state["bbox_head.rtm_cls.0.weight"].shape == (1, 192, 1, 1)
    assert state["neck.reduce_layers.0.conv.weight"].shape == (384, 768, 1, 1)
    assert state["backbone.stage4.1.conv2.conv.weight"].shape == (768, 1536, 1, 1)  # SPP
    # share_conv: conv weights tied across levels (still listed per level), BN per level.
    head = m.bbox_head
    assert head.reg_convs[2][1].conv.weight is head.reg_convs[0][1].conv.weight
    assert head.cls_convs[1][0].bn is not head.cls_convs[0][0].bn
    nano_head = create_model("rtmdet-person-nano").bbox_head
    assert nano_head.cls_convs[1][0].pointwise_conv.conv is not nano_head.cls_convs[0][0].pointwise_conv.conv


def test_nano_gmacs_match_official():
    model = create_model("rtmdet-person-nano").for_inference()
    assert count_gmacs(model, (1, 3, 320, 320)) == pytest.approx(0.308, rel=0.005)


def test_registry_and_config_errors():
    assert {"rtmdet-person-nano", "rtmdet-person-tiny", "rtmdet-person-m"} <= set(list_models(family="rtmdet"))
    with pytest.raises(ConfigError, match="widen"):
        create_model("rtmdet-person-nano", widen=0.5)
    with pytest.raises(ConfigError, match="multiple of 32"):
        create_model("rtmdet-person-nano", input_size=(100, 100))


def test_forward_returns_flat_logits_and_boxes_around_the_grid_points():
    model = small().eval()
    for conv in model.bbox_head.rtm_reg:  # every distance = 1 x stride
        torch.nn.init.zeros_(conv.weight)
        torch.nn.init.ones_(conv.bias)
    cls_logits, boxes = model(torch.rand(2, 3, 128, 128) * 255)
    assert cls_logits.shape == (2, 336, 1) and boxes.shape == (2, 336, 4)
    priors = grid_priors(level_sizes((128, 128), (8, 16, 32)), (8, 16, 32))
    expected = torch.cat([priors[:, :2] - priors[:, 2:], priors[:, :2] + priors[:, 2:]], 1)
    torch.testing.assert_close(boxes[1], expected)
    assert priors[:3].tolist() == [[0, 0, 8], [8, 0, 8], [16, 0, 8]] and priors[256].tolist() == [0, 0, 16]


# --------------------------------------------------------------------------- assigner

def naive_assign(cls_logits, pred_boxes, priors, gt_boxes, gt_labels, topk=13):
    """mmdet's DynamicSoftLabelAssigner.assign for one image, transcribed loop for loop."""
    a = len(pred_boxes)
    gt_index, ious_out = torch.full((a,), -1), torch.zeros(a)
    deltas = torch.cat([priors[:, None, :2] - gt_boxes[:, :2], gt_boxes[:, 2:] - priors[:, None, :2]], -1)
    valid = (deltas.min(-1).values > 0).sum(1) > 0
    num_gt, num_valid = len(gt_boxes), int(valid.sum())
    if num_gt == 0 or num_valid == 0:
        return gt_index, ious_out
    gt_centre = (gt_boxes[:, :2] + gt_boxes[:, 2:]) / 2
    vp = priors[valid]
    distance = (vp[:, None, :2] - gt_centre[None]).pow(2).sum(-1).sqrt() / vp[:, 2:3]
    ious = box_iou(pred_boxes[valid], gt_boxes)
    onehot = F.one_hot(gt_labels, cls_logits.shape[-1]).float()[None].repeat(num_valid, 1, 1)
    scores = cls_logits[valid][:, None].repeat(1, num_gt, 1)
    soft = onehot * ious[..., None]
    cls_cost = (F.binary_cross_entropy_with_logits(scores, soft, reduction="none")
                * (soft - scores.sigmoid()).abs().pow(2)).sum(-1)
    cost = cls_cost - torch.log(ious + 1e-7) * 3 + torch.pow(10, distance - 3)
    matching = torch.zeros_like(cost)
    dynamic_ks = torch.clamp(torch.topk(ious, min(topk, num_valid), dim=0).values.sum(0).int(), min=1)
    for g in range(num_gt):
        matching[torch.topk(cost[:, g], k=int(dynamic_ks[g]), largest=False).indices, g] = 1
    multi = matching.sum(1) > 1
    if multi.any():
        matching[multi] = 0
        matching[multi, cost[multi].argmin(1)] = 1
    fg = matching.sum(1) > 0
    valid_index = torch.nonzero(valid).flatten()
    gt_index[valid_index[fg]] = matching[fg].argmax(1)
    ious_out[valid_index[fg]] = (matching * ious).sum(1)[fg]
    return gt_index, ious_out


def test_assigner_on_a_hand_built_case():
    priors = grid_priors(level_sizes((128, 128), (8, 16, 32)), (8, 16, 32))  # (336, 3)
    pred = torch.cat([priors[:, :2] - 24, priors[:, :2] + 24], 1)[None]  # a 48x48 box on each point
    gt = torch.tensor([[[40.0, 40.0, 88.0, 88.0], [0.0, 0.0, 128.0, 128.0]]])
    mask = torch.tensor([[True, False]])  # the second GT is padding
    out = DynamicSoftLabelAssigner()(torch.zeros(1, 336, 1), pred, priors, gt, torch.zeros(1, 2, dtype=torch.long),
                                     mask)
    positives = torch.nonzero(out.foreground[0]).flatten()
    points = priors[positives]
    assert len(positives) > 1 and (out.gt_index[0, positives] == 0).all()
    assert ((points[:, :2] > 40) & (points[:, :2] < 88)).all()  # all inside the GT box
    assert ((points[:, :2] - 64).norm(dim=1) <= 16).all()  # near its centre
    centre = int(torch.nonzero((priors == torch.tensor([64.0, 64.0, 8.0])).all(1)))
    assert out.foreground[0, centre] and out.ious[0, centre] == pytest.approx(1.0)
    far, corner = 0, int(torch.nonzero((priors == torch.tensor([48.0, 48.0, 8.0])).all(1)))
    assert not out.foreground[0, far] and not out.foreground[0, corner]
    assert (out.gt_index[0, ~out.foreground[0]] == -1).all() and (out.ious[0, ~out.foreground[0]] == 0).all()
    # k = int(sum of the 13 best IoUs)
    ious = box_iou(pred[0], gt[0, :1])[:, 0]
    inside = ((priors[:, :2] > 40) & (priors[:, :2] < 88)).all(1)
    assert len(positives) == int(ious[inside].topk(13).values.sum())


def test_batched_assigner_equals_mmdet_per_image_loop():
    g = torch.Generator().manual_seed(0)
    priors = grid_priors(level_sizes((128, 128), (8, 16, 32)), (8, 16, 32))
    b, m, c = 3, 4, 2
    centres = torch.rand(b, m, 2, generator=g) * 96 + 16
    sizes = torch.rand(b, m, 2, generator=g) * 50 + 10
    gt = torch.cat([centres - sizes / 2, centres + sizes / 2], -1)
    labels = torch.randint(0, c, (b, m), generator=g)
    mask = torch.tensor([[True] * 4, [True, True, False, False], [False] * 4])
    logits = torch.randn(b, 336, c, generator=g)
    jitter = torch.rand(b, 336, 4, generator=g) * 30 + 2
    pred = torch.cat([priors[:, :2] - jitter[..., :2], priors[:, :2] + jitter[..., 2:]], -1)
    out = DynamicSoftLabelAssigner()(logits, pred, priors, gt, labels, mask)
    for i in range(b):
        keep = torch.nonzero(mask[i]).flatten()
        expected_index, expected_ious = naive_assign(logits[i], pred[i], priors, gt[i, keep], labels[i, keep])
        matched = expected_index >= 0
        expected_index[matched] = keep[expected_index[matched]]  # back to padded GT slots
        assert torch.equal(out.gt_index[i], expected_index)
        torch.testing.assert_close(out.ious[i], expected_ious)
    assert out.foreground[0].sum() > 4 and not out.foreground[2].any()


# --------------------------------------------------------------------------- losses

def test_quality_focal_and_giou_losses_on_hand_values():
    logits = torch.tensor([0.0, 0.0, 0.0, -20.0])
    targets = torch.tensor([1.0, 0.5, 0.0, 0.0])
    qfl = quality_focal_loss(logits, targets)
    assert qfl.tolist() == pytest.approx([math.log(2) / 4, 0.0, math.log(2) / 4, 0.0], abs=1e-7)
    a = torch.tensor([[0.0, 0, 2, 2], [0, 0, 1, 1]])
    b = torch.tensor([[0.0, 0, 2, 2], [2, 0, 3, 1]])
    assert giou_loss(a, b).tolist() == pytest.approx([0.0, 4 / 3])


def test_loss_terms_are_finite_without_people_and_need_positives_for_boxes():
    model = small()
    outputs = model(torch.rand(2, 3, 128, 128) * 255)
    empty = model.loss(outputs, {"boxes": torch.zeros(2, 3, 4), "mask": torch.zeros(2, 3, dtype=torch.bool)})
    assert set(empty) == {"loss_cls", "loss_bbox"}
    assert empty["loss_bbox"].item() == 0.0 and 0 < empty["loss_cls"].item() < 10
    sum(empty.values()).backward()
    assert model.bbox_head.rtm_cls[0].bias.grad.abs().sum() > 0
    no_slots = model.loss(outputs, {"boxes": torch.zeros(2, 0, 4), "mask": torch.zeros(2, 0, dtype=torch.bool)})
    assert no_slots["loss_cls"].item() == pytest.approx(empty["loss_cls"].item())
    with pytest.raises(InputError, match="labels"):
        model.loss(outputs, {"boxes": torch.tensor([[[0.0, 0, 50, 50]]] * 2), "mask": torch.ones(2, 1, dtype=bool),
                             "labels": torch.ones(2, 1, dtype=torch.long)})
    with pytest.raises(InputError, match="128x128"):
        model.loss((outputs[0][:, :300], outputs[1][:, :300]), {"boxes": torch.zeros(2, 0, 4),
                                                                 "mask": torch.zeros(2, 0, dtype=torch.bool)})


# --------------------------------------------------------------------------- decoding

def test_letterbox_is_top_left_with_114_padding():
    image = np.full((100, 200, 3), 7, np.uint8)
    canvas, factor = letterbox_topleft(image, (128, 128))
    assert canvas.shape == (128, 128, 3) and factor.tolist() == [0.64, 0.64]
    assert (canvas[:64] == 7).all() and (canvas[64:] == 114).all()
    batch, metas = small().preprocess([image, np.zeros((128, 64, 3), np.uint8)])
    assert batch.shape == (2, 3, 128, 128) and metas["image_size"].tolist() == [[100, 200], [128, 64]]
    assert metas["scale_factor"].tolist() == [[0.64, 0.64], [1.0, 1.0]]


def fake_outputs(entries, batch=1, num_points=336):
    """Dense outputs with every logit -10 except the given (image, point, logit, box) entries."""
    logits, boxes = torch.full((batch, num_points, 1), -10.0), torch.zeros(batch, num_points, 4)
    for image, point, logit, box in entries:
        logits[image, point, 0] = logit
        boxes[image, point] = torch.tensor(box, dtype=torch.float32)
    return logits, boxes


def test_decode_maps_boxes_back_through_the_letterbox():
    model = small()
    outputs = fake_outputs([
        (0, 10, 5.0, [32, 16, 96, 48]),    # -> (50, 25, 150, 75) in the 200x100 image
        (0, 11, 3.0, [33, 16, 97, 48]),    # duplicate of the first: NMS removes it
        (0, 300, 2.0, [100, 40, 140, 80]),  # crosses the bottom edge: clipped
        (0, 20, 4.0, [10, 70, 30, 90]),    # inside the padding only: dropped
    ])
    [dets] = model.decode(outputs, {"scale_factor": np.array([0.64]), "image_size": np.array([[100, 200]])})
    np.testing.assert_allclose(dets["boxes"], [[50, 25, 150, 75], [156.25, 62.5, 200, 100]], atol=1e-4)
    np.testing.assert_allclose(dets["scores"], torch.sigmoid(torch.tensor([5.0, 2.0])).numpy(), rtol=1e-6)
    assert dets["labels"].tolist() == [0, 0]


def test_decode_batches_images_keeps_the_best_per_image_and_drops_low_scores():
    model = small(max_per_img=3)
    entries = [(0, p, float(p % 7), [4 * p, 0, 4 * p + 3, 3]) for p in range(1, 30)]  # 29 disjoint boxes
    entries += [(1, 5, -4.0, [0, 0, 10, 10])]  # below score_thr 0.05
    outputs = fake_outputs(entries, batch=2)
    dets = model.decode(outputs, {"scale_factor": np.array([1.0, 2.0]), "image_size": np.array([[128, 128]] * 2)})
    assert len(dets) == 2 and dets[1]["boxes"].shape == (0, 4)
    assert len(dets[0]["scores"]) == 3 and np.all(np.diff(dets[0]["scores"]) <= 0)
    assert dets[0]["scores"][0] == pytest.approx(torch.sigmoid(torch.tensor(6.0)).item())


# --------------------------------------------------------------------------- learning

def bright_rectangles(n=4, size=128, seed=0):
    """Dark noisy images, each with one bright rectangle: the "person" to find."""
    rng = np.random.default_rng(seed)
    images = rng.uniform(0, 60, (n, size, size, 3)).astype(np.float32)
    boxes = []
    for image in images:
        w, h = rng.uniform(30, 70), rng.uniform(40, 90)
        x0, y0 = int(rng.uniform(5, size - w - 5)), int(rng.uniform(5, size - h - 5))
        x1, y1 = int(x0 + w), int(y0 + h)
        image[y0:y1, x0:x1] = 230
        boxes.append([x0, y0, x1, y1])
    return torch.from_numpy(images).permute(0, 3, 1, 2), torch.tensor(boxes, dtype=torch.float32)[:, None]


@pytest.mark.slow
def test_small_detector_learns_bright_boxes():
    torch.manual_seed(0)
    images, boxes = bright_rectangles()
    model = small()
    # mmdet's head init makes every box a point (IoU ~ 0), so its IoU-weighted losses start near 0 and
    # first grow. Start the distances at 2 strides instead, so the loss is meaningful from step 0.
    for conv in model.bbox_head.rtm_reg:
        torch.nn.init.constant_(conv.bias, 2.0)
    targets = {"boxes": boxes, "mask": torch.ones(4, 1, dtype=torch.bool)}
    optimiser = torch.optim.AdamW(model.parameters(), lr=3e-3)

    def top_box_iou() -> float:
        # Batch statistics: after 40 steps the BN running averages still lag the weights.
        with torch.no_grad():
            dets = model.decode(model(images))
        return float(np.mean([box_iou(torch.from_numpy(d["boxes"][:1]), gt)[0, 0].item() if len(d["boxes"])
                              else 0.0 for d, gt in zip(dets, boxes)]))

    iou_before = top_box_iou()
    history = []
    for _ in range(40):
        losses = model.loss(model(images), targets)
        loss = sum(losses.values())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        history.append(loss.item())
    assert np.mean(history[-5:]) < 0.4 * np.mean(history[:5])
    assert iou_before < 0.1 and top_box_iou() > 0.7
