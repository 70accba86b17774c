"""YOLOv8-pose / YOLO11-pose: official sizes and keys, assigner, DFL, keypoint loss, decode, training, export."""

import io
import math

import numpy as np
import pytest
import torch

from posekit.bench.complexity import count_params
from posekit.core.errors import ConfigError, InputError
from posekit.data.transforms import apply_affine
from posekit.models import create_model, model_card
from posekit.models.onestage import grid_points
from posekit.models.yolo_pose import (DFL, KeypointOKSLoss, PoseHead, TaskAlignedAssigner, build_backbone_neck,
                                      complete_iou, dfl_loss)


# Ultralytics 8.3.40 at nc=1, sum(p.numel() for p in model.parameters()) (unfused).
OFFICIAL_PARAMS = {
    "yolov8-pose-n": 3_295_470, "yolov8-pose-s": 11_626_046, "yolov8-pose-m": 26_464_462,
    "yolov8-pose-l": 44_489_196, "yolov8-pose-x": 69_491_724,
    "yolo11-pose-n": 2_874_462, "yolo11-pose-s": 9_918_238, "yolo11-pose-m": 20_912_364,
    "yolo11-pose-l": 26_169_836, "yolo11-pose-x": 58_798_636,
}


def tiny(name="yolov8-pose-n", **overrides):
    return create_model(name, width=0.0625, input_size=64, **overrides)


@pytest.mark.parametrize("name", sorted(OFFICIAL_PARAMS))
def test_parameter_count_is_the_official_one(name):
    params = count_params(create_model(name).for_inference())
    assert params == OFFICIAL_PARAMS[name]
    assert abs(model_card(name).params_m * 1e6 - params) / params < 0.005


@pytest.mark.parametrize("name, num_keys, samples", [
    ("yolov8-pose-n", 397, {"model.0.conv.weight": (16, 3, 3, 3), "model.2.m.0.cv1.conv.weight": (16, 16, 3, 3),
                            "model.9.cv2.conv.weight": (256, 512, 1, 1), "model.22.cv2.0.2.weight": (64, 64, 1, 1),
                            "model.22.cv3.2.0.conv.weight": (64, 256, 3, 3), "model.22.dfl.conv.weight": (1, 16, 1, 1),
                            "model.22.cv4.2.2.weight": (51, 51, 1, 1), "model.21.m.0.cv2.bn.num_batches_tracked": ()}),
    ("yolo11-pose-n", 541, {"model.2.m.0.cv1.conv.weight": (8, 16, 3, 3),
                            "model.10.m.0.attn.qkv.conv.weight": (256, 128, 1, 1),
                            "model.10.m.0.attn.pe.conv.weight": (128, 1, 3, 3),
                            "model.10.m.0.ffn.1.conv.weight": (128, 256, 1, 1),
                            "model.23.cv3.0.0.0.conv.weight": (64, 1, 3, 3),
                            "model.23.cv3.0.0.1.conv.weight": (64, 64, 1, 1),
                            "model.23.cv4.0.2.weight": (51, 51, 1, 1), "model.23.cv4.0.2.bias": (51,)}),
    ("yolo11-pose-m", 691, {"model.2.m.0.m.1.cv2.conv.weight": (32, 32, 3, 3),
                            "model.2.m.0.cv3.conv.weight": (64, 64, 1, 1),
                            "model.23.cv4.2.2.weight": (51, 64, 1, 1)}),
])
def test_state_dict_mirrors_ultralytics_numbering(name, num_keys, samples):
    model = create_model(name)
    state = model.state_dict()
    assert len(state) == num_keys
    for key, shape in samples.items():
        assert tuple(state[key].shape) == shape, key
    dfl = model.head.dfl.conv.weight
    assert not dfl.requires_grad and torch.equal(dfl.flatten(), torch.arange(16.0))


def test_backbone_neck_is_reusable_at_any_scale():
    trunk = build_backbone_neck("11", (0.5, 0.0625, 1024))
    assert trunk.out_indices == (16, 19, 22) and trunk.out_channels == (16, 32, 64)
    feats = trunk(torch.zeros(1, 3, 64, 96))
    assert [f.shape for f in feats] == [(1, 16, 8, 12), (1, 32, 4, 6), (1, 64, 2, 3)]
    assert build_backbone_neck("v8", "s").out_channels == (128, 256, 512)
    assert build_backbone_neck("v8", "x").out_channels == (320, 640, 640)
    with pytest.raises(ConfigError, match="scale"):
        build_backbone_neck("v8", "q")


def test_model_sees_rgb_divided_by_255():
    model = tiny().eval()
    seen = {}

    def keep_input(module, inputs, output):
        seen["x"] = inputs[0]

    model.model[0].register_forward_hook(keep_input)
    images = torch.rand(1, 3, 64, 64) * 255
    cls_logits, boxes, keypoints, box_logits = model(images)
    assert torch.allclose(seen["x"], images / 255)
    assert (cls_logits.shape, boxes.shape, keypoints.shape, box_logits.shape) == \
        ((1, 84, 1), (1, 84, 4), (1, 84, 17, 3), (1, 84, 4, 16))


# --------------------------------------------------------------------------- assigner

def test_task_aligned_assigner_hand_case():
    """Four anchors on a row; GT0 covers anchors 0-2, GT1 anchors 1-3, topk 2.

    Anchor 0 predicts GT0's box and anchor 2 GT1's; anchor 1 nearly GT0's but with a tiny score,
    so GT0's two best are anchors 0 and 2. Anchor 2, claimed by both, goes to GT1 (CIoU 1 vs ~0.34);
    anchor 1 is left out. The second image has only a padding GT: all background.
    """
    points = torch.tensor([[10.0, 10.0], [20.0, 10.0], [30.0, 10.0], [50.0, 10.0]])
    gt = torch.tensor([[0.0, 0.0, 40.0, 20.0], [15.0, 0.0, 60.0, 20.0]])
    pred = torch.tensor([[0.0, 0.0, 40.0, 20.0], [2.0, 0.0, 40.0, 20.0], [15.0, 0.0, 60.0, 20.0],
                         [20.0, 0.0, 60.0, 20.0]])
    scores = torch.tensor([1.0, 1e-8, 1.0, 1.0])[None, :, None].repeat(2, 1, 1)  # (B, A, 1)
    gt_mask = torch.tensor([[True, True], [False, True]])
    assigned = TaskAlignedAssigner(topk=2)(scores, pred[None].repeat(2, 1, 1), points, gt[None].repeat(2, 1, 1),
                                           torch.zeros(2, 2, dtype=torch.long), gt_mask)
    assert assigned.gt_index[0].tolist() == [0, -1, 1, 1]
    assert assigned.foreground[0].tolist() == [True, False, True, True]
    expected_anchor3 = complete_iou(pred[3], gt[1]) ** 6  # its metric over GT1's best (1), times GT1's best CIoU (1)
    assert torch.allclose(assigned.scores[0], torch.tensor([1.0, 0.0, 1.0, float(expected_anchor3)]), atol=1e-5)
    # Image 1: only GT1 is real; anchors 2 and 3 are its top 2.
    assert assigned.gt_index[1].tolist() == [-1, -1, 1, 1]


def test_complete_iou_reference_values():
    box = torch.tensor([0.0, 0.0, 10.0, 20.0])
    assert torch.allclose(complete_iou(box, box), torch.tensor(1.0), atol=1e-6)
    inner = torch.tensor([2.5, 5.0, 7.5, 15.0])  # same centre and aspect: CIoU = IoU
    assert torch.allclose(complete_iou(box, inner), torch.tensor(0.25), atol=1e-6)
    assert complete_iou(box, box + 30) < 0  # disjoint: the centre-distance term makes it negative


# --------------------------------------------------------------------------- DFL and losses

def test_dfl_expectation_of_one_hot_and_split_distributions():
    dfl = DFL(16)
    one_hot = torch.full((2, 16), -1e4)
    one_hot[0, 5] = 0.0
    one_hot[1, 3:5] = 0.0  # half on bin 3, half on 4
    assert torch.allclose(dfl(one_hot), torch.tensor([5.0, 3.5]))


def test_head_decodes_one_hot_distances_around_cell_centres():
    head = PoseHead(1, 17, (8, 16, 32), reg_max=16)
    bins = [2, 3, 4, 5]  # left, top, right, bottom
    with torch.no_grad():
        for branch in head.cv2:
            branch[-1].weight.zero_()
            branch[-1].bias.fill_(-1e4)
            for side, b in enumerate(bins):
                branch[-1].bias[side * 16 + b] = 0.0
    feats = [torch.zeros(1, 8, 4, 4), torch.zeros(1, 16, 2, 2), torch.zeros(1, 32, 1, 1)]
    _, boxes, _, _ = head.eval()(feats)
    points = grid_points([(4, 4), (2, 2), (1, 1)], (8, 16, 32), offset=0.5)  # (21, 3) cell centres
    s = points[:, 2:]
    expected = torch.cat([points[:, :2] - s * torch.tensor([2.0, 3.0]),
                          points[:, :2] + s * torch.tensor([4.0, 5.0])], -1)
    assert torch.allclose(boxes[0], expected)


def test_dfl_loss_hand_values():
    target = torch.tensor([[3.25, 3.25, 3.25, 3.25]])
    probs = torch.full((1, 4, 16), 1e-12)
    probs[..., 3], probs[..., 4] = 0.75, 0.25
    ideal = dfl_loss(probs.log(), target)
    entropy = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    assert torch.allclose(ideal, torch.tensor([entropy]), atol=1e-6)
    peaked = torch.full((1, 4, 16), -20.0)
    peaked[..., 3] = 0.0
    assert dfl_loss(peaked, target) > ideal + 1.0


def test_keypoint_oks_loss_hand_case():
    loss = KeypointOKSLoss([0.5, 0.25])
    pred = torch.tensor([[[1.0, 0.0], [3.0, 3.0]]])
    target = torch.tensor([[[0.0, 0.0], [3.0, 3.0]]])  # keypoint 0 off by 1, keypoint 1 exact
    area = torch.tensor([1.0])
    # e0 = d² / ((2σ)² · 2 · area) = 1 / (1 · 2 · 1)
    both = loss(pred, target, torch.tensor([[True, True]]), area)
    assert torch.allclose(both, torch.tensor((1 - math.exp(-0.5)) / 2))
    # With keypoint 1 unlabelled the person's term is scaled by K / 1 = 2.
    one = loss(pred, target, torch.tensor([[True, False]]), area)
    assert torch.allclose(one, torch.tensor(1 - math.exp(-0.5)))
    assert loss(target, target, torch.tensor([[True, True]]), area) == 0


def _batch(num_keypoints=17):
    boxes = torch.tensor([[[8.0, 6.0, 30.0, 58.0], [36.0, 10.0, 60.0, 54.0]],
                          [[16.0, 8.0, 48.0, 60.0], [0.0, 0.0, 0.0, 0.0]]])  # image 1 has one person
    g = torch.Generator().manual_seed(0)
    images = torch.rand(2, 3, 64, 64, generator=g) * 60
    for b, i in [(0, 0), (0, 1), (1, 0)]:
        x0, y0, x1, y1 = boxes[b, i].int().tolist()
        images[b, :, y0:y1, x0:x1] += 150
    size = boxes[..., None, 2:] - boxes[..., None, :2]
    keypoints = boxes[..., None, :2] + torch.rand(2, 2, num_keypoints, 2, generator=g) * size  # inside the boxes
    targets = {"boxes": boxes, "keypoints": keypoints, "visible": torch.full((2, 2, num_keypoints), 2.0),
               "areas": torch.full((2, 2), 500.0), "mask": torch.tensor([[True, True], [True, False]])}
    return images, targets


def test_loss_terms_and_empty_images():
    model = tiny()
    images, targets = _batch()
    terms = model.loss(model(images), targets)
    assert set(terms) == {"loss_box", "loss_pose", "loss_kobj", "loss_cls", "loss_dfl"}
    assert all(torch.isfinite(v) and v > 0 for v in terms.values())
    empty = dict(targets, mask=torch.zeros(2, 2, dtype=torch.bool))
    terms = model.loss(model(images), empty)
    assert terms["loss_cls"] > 0 and terms["loss_box"] == 0 and terms["loss_pose"] == 0
    sum(terms.values()).backward()  # no positives still gives a graph
    with pytest.raises(InputError, match="lack"):
        model.loss(model(images), {"boxes": targets["boxes"]})


@pytest.mark.slow
def test_tiny_model_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    model = tiny()
    images, targets = _batch()
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    history = []
    for _ in range(30):
        loss = sum(model.loss(model(images), targets).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.append(loss.item())
    assert history[-1] < 0.5 * history[0]


# --------------------------------------------------------------------------- decode

def test_decode_maps_back_through_the_letterbox_exactly_with_nms():
    model = tiny().eval()
    image = np.zeros((50, 100, 3), dtype=np.uint8)  # h 50, w 100: letterboxed into 64 x 64 with bands
    _, metas = model.preprocess([image])
    matrix = metas["matrix"][0]
    rng = np.random.default_rng(0)
    kpts_image = rng.uniform([10, 5], [60, 45], size=(17, 2))
    box_image = np.array([10.0, 5.0, 60.0, 45.0])

    def to_input(xy):
        return torch.tensor(apply_affine(np.asarray(xy, dtype=np.float64).reshape(-1, 2), matrix), dtype=torch.float32)

    a = 84
    cls_logits = torch.full((1, a, 1), -10.0)
    boxes = torch.zeros(1, a, 4)
    keypoints = torch.zeros(1, a, 17, 3)
    box_input = to_input(box_image.reshape(2, 2)).flatten()
    far = torch.tensor([45.0, 45.0, 60.0, 60.0])
    for anchor, logit, box in [(7, 2.0, box_input), (9, 1.0, box_input + 1), (20, 0.5, far), (30, -2.0, far - 30)]:
        cls_logits[0, anchor] = logit
        boxes[0, anchor] = box
    keypoints[0, 7, :, :2] = to_input(kpts_image)
    keypoints[0, 7, :, 2] = 3.0
    outputs = (cls_logits, boxes, keypoints, torch.zeros(1, a, 4, 16))

    poses = model.decode(outputs, metas)[0]
    assert len(poses) == 2  # anchor 9 is suppressed by anchor 7 (IoU > 0.7), anchor 30 is under 0.25
    np.testing.assert_allclose(poses.keypoints[0], kpts_image, atol=1e-3)
    np.testing.assert_allclose(poses.boxes[0], box_image, atol=1e-3)
    np.testing.assert_allclose(poses.scores, torch.sigmoid(torch.tensor([2.0, 0.5])).numpy(), atol=1e-6)
    np.testing.assert_allclose(poses.keypoint_scores[0], 1 / (1 + math.exp(-3.0)), atol=1e-6)
    assert len(model.decode(outputs, metas, score_thr=0.1)[0]) == 3
    assert len(model.decode(outputs, metas, iou_thr=0.99)[0]) == 3
    with pytest.raises(InputError, match="metas"):
        model.decode((cls_logits.repeat(2, 1, 1), boxes.repeat(2, 1, 1), keypoints.repeat(2, 1, 1, 1)), metas)


def test_decode_of_a_real_forward_returns_image_pixels():
    model = tiny("yolo11-pose-n").eval()
    batch, metas = model.preprocess([np.full((40, 80, 3), 128, np.uint8), np.zeros((64, 32, 3), np.uint8)])
    with torch.no_grad():
        results = model.decode(model(batch), metas, score_thr=0.0)
    assert all(0 < len(r) < 84 for r in results)  # at init neighbouring boxes overlap: NMS removes some
    for r, (h, w) in zip(results, metas["image_size"]):
        assert np.all(r.boxes >= 0) and np.all(r.boxes[:, 2] <= w) and np.all(r.boxes[:, 3] <= h)
        assert np.all(np.diff(r.scores) <= 0)
    with torch.no_grad():
        assert len(model.decode(model(batch), metas, score_thr=0.0, max_det=3)[0]) == 3


# --------------------------------------------------------------------------- configuration and export

def test_bad_configuration_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown YOLO-pose option"):
        create_model("yolov8-pose-n", widht=0.5)
    with pytest.raises(ConfigError, match="multiple of 32"):
        create_model("yolov8-pose-n", input_size=100)


@pytest.mark.parametrize("name", ["yolov8-pose-n", "yolo11-pose-n"])
def test_onnx_export_matches_eager(name):
    import onnxruntime as ort

    model = tiny(name).eval()
    images = torch.rand(1, 3, 64, 64) * 255
    with torch.no_grad():
        expected = model(images)
    buffer = io.BytesIO()
    torch.onnx.export(model, (images,), buffer, opset_version=17, dynamo=False,
                      input_names=["images"], output_names=["cls_logits", "boxes", "keypoints", "box_logits"])
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got = session.run(None, {"images": images.numpy()})
    for mine, theirs in zip(expected, got):
        np.testing.assert_allclose(theirs, mine.numpy(), rtol=1e-4, atol=1e-3)
