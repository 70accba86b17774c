"""Ultralytics YOLOv8-pose and YOLO11-pose (n/s/m/l/x): a YOLO backbone and PAN neck, the Pose head
(DFL box branch cv2, class branch cv3, keypoint branch cv4), the task-aligned assigner and v8PoseLoss.

    model = create_model("yolo11-pose-s")
    batch, metas = model.preprocess([image_rgb])          # letterbox (centred, pad 114), RGB 0-255
    poses = model.decode(model(batch), metas)             # list[Poses]; score_thr=0.001 for evaluation

forward(images) sees RGB / 255 and returns four dense tensors (A anchors: strides 8, 16, 32, level
by level, row-major), which export to ONNX unchanged:
    cls_logits  (B, A, C)        class logits (sigmoid gives the person score)
    boxes       (B, A, 4)        xyxy input pixels, the DFL expectation around each cell centre
    keypoints   (B, A, K, 3)     x, y in input pixels and the visibility logit
    box_logits  (B, A, 4, 16)    the DFL distributions over distance bins (training only needs them)

The architectures are the Ultralytics YAMLs as data (`YOLO_VERSIONS`): layer tables, the n/s/m/l/x
(depth, width, max_channels) scales, the head flavour. Modules are numbered as in Ultralytics
(`model.{i}.*`, the head is the last layer), so an official state dict loads by key.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.core.errors import ConfigError
from posekit.core.poses import Poses
from posekit.core.skeleton import get_skeleton
from posekit.models.onestage import OneStageModel, flatten_levels, grid_points, points_for_outputs, read_targets
from posekit.models.registry import ModelCard, configure, register_model
from posekit.nn.ops import batched_nms, box_to_distance, distance_to_box
from posekit.nn.yolo_blocks import C2f, C2PSA, C3k2, SPPF, Concat, Conv, DWConv, run_graph, upsample

# --------------------------------------------------------------------------- architectures as data

# One row per layer, as in the Ultralytics YAMLs: (source, repeats, block, args). Channels are
# before width scaling; source -1 is the previous layer, a tuple lists the layers a Concat joins.
YOLOV8_LAYERS = (
    (-1, 1, "Conv", (64, 3, 2)),        # 0  P1/2
    (-1, 1, "Conv", (128, 3, 2)),       # 1  P2/4
    (-1, 3, "C2f", (128, True)),        # 2
    (-1, 1, "Conv", (256, 3, 2)),       # 3  P3/8
    (-1, 6, "C2f", (256, True)),        # 4
    (-1, 1, "Conv", (512, 3, 2)),       # 5  P4/16
    (-1, 6, "C2f", (512, True)),        # 6
    (-1, 1, "Conv", (1024, 3, 2)),      # 7  P5/32
    (-1, 3, "C2f", (1024, True)),       # 8
    (-1, 1, "SPPF", (1024, 5)),         # 9
    (-1, 1, "Upsample", ()),            # 10
    ((-1, 6), 1, "Concat", ()),         # 11 + backbone P4
    (-1, 3, "C2f", (512,)),             # 12
    (-1, 1, "Upsample", ()),            # 13
    ((-1, 4), 1, "Concat", ()),         # 14 + backbone P3
    (-1, 3, "C2f", (256,)),             # 15 P3/8 out
    (-1, 1, "Conv", (256, 3, 2)),       # 16
    ((-1, 12), 1, "Concat", ()),        # 17 + neck P4
    (-1, 3, "C2f", (512,)),             # 18 P4/16 out
    (-1, 1, "Conv", (512, 3, 2)),       # 19
    ((-1, 9), 1, "Concat", ()),         # 20 + backbone P5
    (-1, 3, "C2f", (1024,)),            # 21 P5/32 out
)

YOLO11_LAYERS = (
    (-1, 1, "Conv", (64, 3, 2)),        # 0  P1/2
    (-1, 1, "Conv", (128, 3, 2)),       # 1  P2/4
    (-1, 2, "C3k2", (256, False, 0.25)),  # 2
    (-1, 1, "Conv", (256, 3, 2)),       # 3  P3/8
    (-1, 2, "C3k2", (512, False, 0.25)),  # 4
    (-1, 1, "Conv", (512, 3, 2)),       # 5  P4/16
    (-1, 2, "C3k2", (512, True)),       # 6
    (-1, 1, "Conv", (1024, 3, 2)),      # 7  P5/32
    (-1, 2, "C3k2", (1024, True)),      # 8
    (-1, 1, "SPPF", (1024, 5)),         # 9
    (-1, 2, "C2PSA", (1024,)),          # 10
    (-1, 1, "Upsample", ()),            # 11
    ((-1, 6), 1, "Concat", ()),         # 12 + backbone P4
    (-1, 2, "C3k2", (512, False)),      # 13
    (-1, 1, "Upsample", ()),            # 14
    ((-1, 4), 1, "Concat", ()),         # 15 + backbone P3
    (-1, 2, "C3k2", (256, False)),      # 16 P3/8 out
    (-1, 1, "Conv", (256, 3, 2)),       # 17
    ((-1, 13), 1, "Concat", ()),        # 18 + neck P4
    (-1, 2, "C3k2", (512, False)),      # 19 P4/16 out
    (-1, 1, "Conv", (512, 3, 2)),       # 20
    ((-1, 10), 1, "Concat", ()),        # 21 + backbone P5
    (-1, 2, "C3k2", (1024, True)),      # 22 P5/32 out
)


@dataclass(frozen=True)
class YOLOScale:
    """Ultralytics' [depth, width, max_channels]; c3k: every C3k2 uses C3k blocks (YOLO11 m/l/x)."""

    depth: float
    width: float
    max_channels: int
    c3k: bool = False


@dataclass(frozen=True)
class YOLOVersion:
    layers: tuple
    outputs: tuple[int, int, int]     # the P3, P4, P5 layers the head reads
    scales: dict
    legacy_head: bool                 # YOLOv8: plain 3x3 class branch; YOLO11: depthwise


YOLO_VERSIONS = {
    "v8": YOLOVersion(YOLOV8_LAYERS, (15, 18, 21), {
        "n": YOLOScale(0.33, 0.25, 1024), "s": YOLOScale(0.33, 0.50, 1024), "m": YOLOScale(0.67, 0.75, 768),
        "l": YOLOScale(1.00, 1.00, 512), "x": YOLOScale(1.00, 1.25, 512)}, legacy_head=True),
    "11": YOLOVersion(YOLO11_LAYERS, (16, 19, 22), {
        "n": YOLOScale(0.50, 0.25, 1024), "s": YOLOScale(0.50, 0.50, 1024),
        "m": YOLOScale(0.50, 1.00, 512, c3k=True), "l": YOLOScale(1.00, 1.00, 512, c3k=True),
        "x": YOLOScale(1.00, 1.50, 512, c3k=True)}, legacy_head=False),
}


def make_divisible(x: float, divisor: int = 8) -> int:
    return int(math.ceil(x / divisor) * divisor)


def _version(version: str) -> YOLOVersion:
    if version not in YOLO_VERSIONS:
        raise ConfigError(f"unknown YOLO version '{version}': use one of {sorted(YOLO_VERSIONS)}")
    return YOLO_VERSIONS[version]


def resolve_scale(version: str, scale: str | YOLOScale | Sequence) -> YOLOScale:
    """'n' | ... | 'x' | YOLOScale | (depth, width, max_channels[, c3k]) -> YOLOScale."""
    if isinstance(scale, YOLOScale):
        return scale
    if isinstance(scale, str):
        scales = _version(version).scales
        if scale not in scales:
            raise ConfigError(f"unknown YOLO{version} scale '{scale}': use one of {list(scales)}")
        return scales[scale]
    return YOLOScale(*scale)


# --------------------------------------------------------------------------- backbone + neck

class YOLOBackboneNeck(nn.Module):
    """Layers model.0 ... model.{n-1} of an Ultralytics graph (backbone and PAN neck).

    images (B, 3, H, W) scaled to 0-1 -> [P3 (B, c3, H/8, W/8), P4 (B, c4, H/16, W/16), P5 (B, c5, H/32, W/32)]
    """

    def __init__(self, layers: Sequence[nn.Module], sources: Sequence, out_indices: Sequence[int],
                 out_channels: Sequence[int]):
        super().__init__()
        self.model = nn.ModuleList(layers)
        self.sources = tuple(sources)
        self.out_indices = tuple(out_indices)
        self.out_channels = tuple(out_channels)

    def forward(self, x: Tensor) -> list[Tensor]:
        return run_graph(self.model, self.sources, x, self.out_indices)


def _make_layer(block: str, in_channels: list[int], args: tuple, repeats: int, scale: YOLOScale):
    """One table row -> (module, output channels), with Ultralytics' scaling rules."""
    def width(c):
        return make_divisible(min(c, scale.max_channels) * scale.width, 8)

    n = max(round(repeats * scale.depth), 1) if repeats > 1 else repeats
    c1 = in_channels[0]
    if block == "Conv":
        c2, k, s = width(args[0]), *args[1:]
        return Conv(c1, c2, k, s), c2
    if block == "C2f":
        c2 = width(args[0])
        return C2f(c1, c2, n, *args[1:]), c2
    if block == "C3k2":
        c2, c3k, e = width(args[0]), (args[1] if len(args) > 1 else False), (args[2] if len(args) > 2 else 0.5)
        return C3k2(c1, c2, n, c3k or scale.c3k, e), c2
    if block == "SPPF":
        c2 = width(args[0])
        return SPPF(c1, c2, *args[1:]), c2
    if block == "C2PSA":
        c2 = width(args[0])
        return C2PSA(c1, c2, n), c2
    if block == "Upsample":
        return upsample(), c1
    if block == "Concat":
        return Concat(1), sum(in_channels)
    raise ConfigError(f"unknown YOLO block '{block}'")


def build_backbone_neck(version: str, scale: str | YOLOScale | Sequence = "n") -> YOLOBackboneNeck:
    """The backbone and neck of YOLOv8 ('v8') or YOLO11 ('11') at a scale ('n'...'x', or a custom
    (depth, width, max_channels[, c3k]))."""
    spec = _version(version)
    scale = resolve_scale(version, scale)
    layers, channels = [], [3]  # channels[j + 1]: output width of layer j; channels[-1]: the previous layer's
    for source, repeats, block, args in spec.layers:
        inputs = source if isinstance(source, tuple) else (source,)
        module, c_out = _make_layer(block, [channels[-1 if j == -1 else j + 1] for j in inputs], args, repeats, scale)
        layers.append(module)
        channels.append(c_out)
    sources = [source for source, *_ in spec.layers]
    return YOLOBackboneNeck(layers, sources, spec.outputs, [channels[i + 1] for i in spec.outputs])


# --------------------------------------------------------------------------- head

class DFL(nn.Module):
    """Distribution focal loss integral: the expectation of softmax(logits) over bins 0 ... reg_max - 1.

    The bin values live in a frozen 1x1 conv (`dfl.conv.weight` (1, reg_max, 1, 1), as Ultralytics).
    logits (..., reg_max) -> (...)
    """

    def __init__(self, reg_max: int = 16):
        super().__init__()
        self.conv = nn.Conv2d(reg_max, 1, 1, bias=False).requires_grad_(False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.arange(reg_max, dtype=torch.float32).view(1, reg_max, 1, 1))

    def forward(self, logits: Tensor) -> Tensor:
        # float32 under autocast too: in bfloat16 the expectation steps by 1/16 of a stride near its top.
        with torch.autocast(logits.device.type, enabled=False):
            return logits.float().softmax(-1) @ self.conv.weight.view(-1).float()


def build_keypoint_branch(in_channels: Sequence[int], num_keypoints: int) -> nn.ModuleList:
    """Ultralytics `cv4`: per level Conv3x3 -> Conv3x3 -> 1x1 conv to K * 3 (x, y, visibility), with
    hidden width max(in_channels[0] // 4, K * 3)."""
    outputs = num_keypoints * 3
    hidden = max(in_channels[0] // 4, outputs)
    return nn.ModuleList(nn.Sequential(Conv(c, hidden, 3), Conv(hidden, hidden, 3), nn.Conv2d(hidden, outputs, 1))
                         for c in in_channels)


def decode_keypoints(raw: Tensor, points: Tensor) -> Tensor:
    """Keypoint regression -> input pixels, as Ultralytics: x = (2 * raw_x + cell_x) * stride.

    raw (B, A, K, 3); points (A, 3) cell centres (x, y, stride) in pixels -> (B, A, K, 3): x, y in
    input pixels, the visibility logit unchanged.
    """
    stride = points[:, None, 2:3]  # (A, 1, 1)
    xy = raw[..., :2] * (2.0 * stride) + (points[:, None, :2] - 0.5 * stride)  # (B, A, K, 2)
    return torch.cat([xy, raw[..., 2:]], dim=-1)


class PoseHead(nn.Module):
    """Ultralytics `Pose` (a `Detect` plus cv4), one set of branches per level:

    cv2: Conv3x3 -> Conv3x3 -> 1x1 to 4 * reg_max box-distance logits (width max(16, c0 / 4, 4 * reg_max));
    cv3: to C class logits, width max(c0, min(C, 100)): Conv3x3 -> Conv3x3 -> 1x1 (YOLOv8, `legacy`)
         or [DWConv3x3, Conv1x1] x 2 -> 1x1 (YOLO11);
    cv4: the keypoint branch (`build_keypoint_branch`).

    feats [(B, c_l, h_l, w_l)] -> (cls_logits (B, A, C), boxes (B, A, 4) xyxy px, keypoints (B, A, K, 3),
    box_logits (B, A, 4, reg_max)).
    """

    def __init__(self, num_classes: int, num_keypoints: int, in_channels: Sequence[int],
                 strides: Sequence[int] = (8, 16, 32), reg_max: int = 16, legacy: bool = True):
        super().__init__()
        self.num_classes, self.num_keypoints, self.reg_max = num_classes, num_keypoints, reg_max
        self.strides = tuple(strides)
        c0 = in_channels[0]
        c2, c3 = max(16, c0 // 4, reg_max * 4), max(c0, min(num_classes, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(c, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * reg_max, 1))
                                 for c in in_channels)
        if legacy:
            self.cv3 = nn.ModuleList(nn.Sequential(Conv(c, c3, 3), Conv(c3, c3, 3), nn.Conv2d(c3, num_classes, 1))
                                     for c in in_channels)
        else:
            self.cv3 = nn.ModuleList(nn.Sequential(nn.Sequential(DWConv(c, c, 3), Conv(c, c3, 1)),
                                                   nn.Sequential(DWConv(c3, c3, 3), Conv(c3, c3, 1)),
                                                   nn.Conv2d(c3, num_classes, 1)) for c in in_channels)
        self.dfl = DFL(reg_max)
        self.cv4 = build_keypoint_branch(in_channels, num_keypoints)
        self.init_biases()

    def init_biases(self, image_size: int = 640) -> None:
        """Ultralytics' `bias_init`: box logits 1.0; class prior 5 objects per image of 640 px."""
        with torch.no_grad():
            for box, cls, s in zip(self.cv2, self.cv3, self.strides):
                box[-1].bias.fill_(1.0)
                cls[-1].bias.fill_(math.log(5 / self.num_classes / (image_size / s) ** 2))

    def forward(self, feats: Sequence[Tensor]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        b = feats[0].shape[0]
        # float32 points make the decoded pixels float32 under autocast too
        points = grid_points([f.shape[-2:] for f in feats], self.strides, offset=0.5, device=feats[0].device)  # (A, 3)
        cls_logits = flatten_levels([branch(f) for branch, f in zip(self.cv3, feats)])  # (B, A, C)
        box_logits = flatten_levels([branch(f) for branch, f in zip(self.cv2, feats)])  # (B, A, 4 * R)
        box_logits = box_logits.reshape(b, -1, 4, self.reg_max)
        distances = self.dfl(box_logits) * points[:, 2:3]  # (B, A, 4) in pixels
        boxes = distance_to_box(points[:, :2], distances)
        raw = flatten_levels([branch(f) for branch, f in zip(self.cv4, feats)])  # (B, A, K * 3)
        keypoints = decode_keypoints(raw.reshape(b, -1, self.num_keypoints, 3), points)
        return cls_logits, boxes, keypoints, box_logits


# --------------------------------------------------------------------------- assignment and losses

def complete_iou(a: Tensor, b: Tensor, eps: float = 1e-7) -> Tensor:
    """CIoU (Zheng et al. 2020) of xyxy boxes, element-wise with broadcasting: (..., 4), (..., 4) -> (...).

    IoU - centre distance² / enclosing diagonal² - α v, v the aspect-ratio term (α without gradient),
    as Ultralytics' `bbox_iou(..., CIoU=True)`.
    """
    w1, h1 = a[..., 2] - a[..., 0], (a[..., 3] - a[..., 1]).clamp(min=eps)
    w2, h2 = b[..., 2] - b[..., 0], (b[..., 3] - b[..., 1]).clamp(min=eps)
    inter = ((torch.minimum(a[..., 2], b[..., 2]) - torch.maximum(a[..., 0], b[..., 0])).clamp(min=0)
             * (torch.minimum(a[..., 3], b[..., 3]) - torch.maximum(a[..., 1], b[..., 1])).clamp(min=0))
    iou = inter / (w1 * h1 + w2 * h2 - inter + eps)
    hull_w = torch.maximum(a[..., 2], b[..., 2]) - torch.minimum(a[..., 0], b[..., 0])
    hull_h = torch.maximum(a[..., 3], b[..., 3]) - torch.minimum(a[..., 1], b[..., 1])
    diagonal2 = hull_w ** 2 + hull_h ** 2 + eps
    centre2 = ((b[..., 0] + b[..., 2] - a[..., 0] - a[..., 2]) ** 2
               + (b[..., 1] + b[..., 3] - a[..., 1] - a[..., 3]) ** 2) / 4
    v = (4 / math.pi ** 2) * (torch.atan(w2 / h2) - torch.atan(w1 / h1)) ** 2
    with torch.no_grad():
        alpha = v / (v - iou + (1 + eps))
    return iou - (centre2 / diagonal2 + v * alpha)


@dataclass
class TaskAlignedAssignment:
    """gt_index (B, A) long: the GT each anchor learns, -1 for background; foreground (B, A) bool;
    scores (B, A): the soft class target of each anchor (0 for background)."""

    gt_index: Tensor
    foreground: Tensor
    scores: Tensor


class TaskAlignedAssigner:
    """TOOD's task-aligned assignment (Feng et al. 2021), as Ultralytics' `TaskAlignedAssigner`.

    1. candidates: anchors whose point lies strictly inside the GT box;
    2. alignment t = score^alpha * overlap^beta, overlap = CIoU(GT, predicted box) clamped at 0
       (or the `overlaps` the caller passes, e.g. OKS), score = the predicted score of the GT's class;
    3. each GT keeps its `topk` candidates of highest t;
    4. an anchor kept by several GTs goes to the one it overlaps most;
    5. soft target = t / (max t of that GT) * (max overlap of that GT).
    """

    def __init__(self, topk: int = 10, alpha: float = 0.5, beta: float = 6.0, eps: float = 1e-9):
        self.topk, self.alpha, self.beta, self.eps = topk, alpha, beta, eps

    @torch.no_grad()
    def __call__(self, scores: Tensor, pred_boxes: Tensor, points: Tensor, gt_boxes: Tensor,
                 gt_labels: Tensor, gt_mask: Tensor, overlaps: Tensor | None = None) -> TaskAlignedAssignment:
        """scores (B, A, C) probabilities; pred_boxes (B, A, 4) xyxy; points (A, 2) anchor points in the
        same pixels; gt_boxes (B, M, 4) xyxy; gt_labels (B, M) long; gt_mask (B, M) bool (False = padding);
        overlaps (B, M, A) optional, replacing the CIoU."""
        b, a, c = scores.shape
        m = gt_boxes.shape[1]
        if m == 0 or a == 0:
            background = torch.full((b, a), -1, dtype=torch.long, device=scores.device)
            return TaskAlignedAssignment(background, background >= 0, scores.new_zeros(b, a))
        inside = box_to_distance(points[None, None], gt_boxes[:, :, None]).amin(-1) > self.eps  # (B, M, A)
        candidate = inside & gt_mask[..., None].bool()
        if overlaps is None:
            overlaps = complete_iou(gt_boxes[:, :, None], pred_boxes[:, None]).clamp(min=0)  # (B, M, A)
        overlaps = overlaps * candidate
        labels = gt_labels.long().clamp(0, c - 1)
        class_scores = scores.gather(2, labels[:, None, :].expand(b, a, m)).transpose(1, 2)  # (B, M, A)
        metric = class_scores.pow(self.alpha) * overlaps.pow(self.beta) * candidate  # (B, M, A)

        top = metric.topk(min(self.topk, a), dim=-1).indices  # (B, M, k)
        positive = torch.zeros_like(candidate).scatter_(-1, top, True) & candidate  # (B, M, A)
        claimed_twice = positive.sum(1, keepdim=True) > 1  # (B, 1, A)
        most_overlapped = F.one_hot(overlaps.argmax(1), m).transpose(1, 2).bool()  # (B, M, A)
        positive = torch.where(claimed_twice, most_overlapped, positive)

        foreground = positive.any(1)  # (B, A)
        gt_index = torch.where(foreground, positive.to(torch.uint8).argmax(1), -1)
        metric = metric * positive
        best_overlap = (overlaps * positive).amax(-1, keepdim=True)  # (B, M, 1)
        soft = (metric * best_overlap / (metric.amax(-1, keepdim=True) + self.eps)).amax(1)  # (B, A)
        return TaskAlignedAssignment(gt_index, foreground, soft)


def dfl_loss(logits: Tensor, targets: Tensor) -> Tensor:
    """Distribution focal loss: cross-entropy to the two bins around each target distance, weighted
    by closeness, averaged over the 4 sides.

    logits (N, 4, R); targets (N, 4) distances in bins (clamped to [0, R - 1.01]) -> (N,)
    """
    r = logits.shape[-1]
    targets = targets.clamp(0, r - 1 - 0.01)
    left = targets.long()
    weight_left = left + 1 - targets
    log_p = F.log_softmax(logits, dim=-1)  # (N, 4, R)
    nll_left = -log_p.gather(-1, left[..., None]).squeeze(-1)
    nll_right = -log_p.gather(-1, (left + 1)[..., None]).squeeze(-1)
    return (nll_left * weight_left + nll_right * (1 - weight_left)).mean(-1)


class KeypointOKSLoss(nn.Module):
    """Ultralytics' `KeypointLoss`: 1 - exp(-e) with COCO's OKS exponent e = d² / ((2σ)² · 2 · area),
    over labelled keypoints, each person scaled by K / (its labelled count), averaged over N · K.

    pred, target (N, K, 2); visible (N, K) bool; areas (N,) box areas, all in one unit -> scalar.
    """

    def __init__(self, sigmas: Sequence[float]):
        super().__init__()
        self.register_buffer("sigmas", torch.as_tensor(np.asarray(sigmas, dtype=np.float32)), persistent=False)

    def forward(self, pred: Tensor, target: Tensor, visible: Tensor, areas: Tensor) -> Tensor:
        d2 = ((pred - target) ** 2).sum(-1)  # (N, K)
        visible = visible.to(pred.dtype)
        factor = visible.shape[1] / (visible.sum(1, keepdim=True) + 1e-9)  # (N, 1)
        e = d2 / ((2 * self.sigmas) ** 2 * (areas[:, None] + 1e-9) * 2)
        return (factor * (1 - torch.exp(-e)) * visible).mean()


# --------------------------------------------------------------------------- model

@dataclass(frozen=True)
class YOLOPoseConfig:
    """Architecture (version, scale), test settings (Ultralytics predict defaults; pass a low
    score_thr such as 0.001 to `decode` for evaluation) and the v8PoseLoss gains."""

    version: str                               # "v8" | "11"
    depth: float
    width: float
    max_channels: int
    c3k: bool = False
    input_size: tuple[int, int] = (640, 640)  # (height, width), multiples of 32
    num_classes: int = 1
    skeleton: str = "coco"
    reg_max: int = 16
    strides: tuple[int, ...] = (8, 16, 32)
    # test
    score_thr: float = 0.25
    nms_iou_thr: float = 0.7
    max_det: int = 300
    max_nms: int = 30000                       # candidates per image entering NMS
    # train
    assigner_topk: int = 10
    assigner_alpha: float = 0.5
    assigner_beta: float = 6.0
    box_gain: float = 7.5
    cls_gain: float = 0.5
    dfl_gain: float = 1.5
    pose_gain: float = 12.0
    kobj_gain: float = 1.0


class YOLOPose(OneStageModel):
    """YOLOv8-pose / YOLO11-pose. images (B, 3, H, W) RGB 0-255 -> (cls_logits, boxes, keypoints,
    box_logits), see the module docstring."""

    evaluation_options = {"score_thr": 0.001}  # Ultralytics validates at conf 0.001

    def __init__(self, config: YOLOPoseConfig):
        super().__init__(config.input_size, get_skeleton(config.skeleton))
        self.require_input_multiple(max(config.strides), "YOLO-pose")
        self.config = dataclasses.replace(config, input_size=self.input_size)
        scale = YOLOScale(config.depth, config.width, config.max_channels, config.c3k)
        trunk = build_backbone_neck(config.version, scale)
        head = PoseHead(config.num_classes, self.num_keypoints, trunk.out_channels, config.strides,
                        config.reg_max, legacy=_version(config.version).legacy_head)
        self.model = nn.ModuleList([*trunk.model, head])
        self.sources, self.feature_indices = trunk.sources, trunk.out_indices
        self.assigner = TaskAlignedAssigner(config.assigner_topk, config.assigner_alpha, config.assigner_beta)
        self.keypoint_loss = KeypointOKSLoss(self.skeleton.sigmas)

    @property
    def head(self) -> PoseHead:
        return self.model[-1]

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        feats = run_graph(self.model[:-1], self.sources, images / 255.0, self.feature_indices)
        return self.head(feats)

    def anchor_points(self, num_anchors: int, device=None) -> Tensor:
        """Cell centres (A, 3) as (x, y, stride) for outputs with A anchors: those of the model's
        input size, or of the square input with A anchors."""
        return points_for_outputs(num_anchors, self.input_size, self.config.strides, 0.5, device)[0]

    # ----------------------------------------------------------------------- training

    def loss(self, outputs, targets: dict) -> dict[str, Tensor]:
        """v8PoseLoss, batched over images. outputs from forward; targets: the padded whole-image dict
        (boxes, keypoints, visible, areas, mask; optional labels (B, M), default 0).

        -> {"loss_box": 7.5 · CIoU, "loss_pose": 12 · OKS keypoint loss, "loss_kobj": 1 · visibility BCE,
        "loss_cls": 0.5 · BCE, "loss_dfl": 1.5 · DFL}; box, cls and DFL are normalised by the summed soft
        targets, the keypoint terms are means over the positives' keypoints. (Ultralytics also
        multiplies the total by the batch size; posekit keeps the terms batch-size independent.)
        """
        cfg = self.config
        cls_logits, boxes, keypoints, box_logits = (t.float() for t in outputs)
        b, a, c = cls_logits.shape
        device = cls_logits.device
        t = read_targets(targets, self.num_keypoints, device)
        labels = targets.get("labels")
        labels = (torch.zeros_like(t["mask"], dtype=torch.long) if labels is None
                  else torch.as_tensor(labels, device=device).long().reshape(t["mask"].shape))
        points = self.anchor_points(a, device)  # (A, 3)
        assigned = self.assigner(cls_logits.detach().sigmoid(), boxes.detach(), points[:, :2], t["boxes"],
                                 labels, t["mask"])

        soft = assigned.scores  # (B, A)
        anchor_labels = labels.gather(1, assigned.gt_index.clamp(min=0))  # (B, A)
        cls_targets = F.one_hot(anchor_labels, c).float() * soft[..., None]  # (B, A, C)
        normaliser = soft.sum().clamp(min=1.0)
        loss_cls = F.binary_cross_entropy_with_logits(cls_logits, cls_targets, reduction="sum") / normaliser

        image, anchor = assigned.foreground.nonzero(as_tuple=True)  # (N,), (N,)
        if len(anchor) == 0:
            zero = (boxes.sum() + keypoints.sum() + box_logits.sum()) * 0.0  # keeps every output in the graph
            terms = {"loss_box": zero, "loss_pose": zero, "loss_kobj": zero, "loss_dfl": zero}
        else:
            person = assigned.gt_index[image, anchor]  # (N,)
            stride = points[anchor, 2:3]  # (N, 1)
            weight = soft[image, anchor]  # (N,)
            target_boxes = t["boxes"][image, person]  # (N, 4)
            loss_box = ((1.0 - complete_iou(boxes[image, anchor], target_boxes)) * weight).sum() / normaliser
            target_distances = box_to_distance(points[anchor, :2], target_boxes) / stride  # (N, 4) in bins
            loss_dfl = (dfl_loss(box_logits[image, anchor], target_distances) * weight).sum() / normaliser

            pred_kpts = keypoints[image, anchor]  # (N, K, 3)
            visible = t["visible"][image, person] > 0  # (N, K)
            wh = (target_boxes[:, 2:] - target_boxes[:, :2]) / stride  # (N, 2) in cells
            loss_pose = self.keypoint_loss(pred_kpts[..., :2] / stride[..., None],
                                           t["keypoints"][image, person] / stride[..., None], visible, wh.prod(-1))
            loss_kobj = F.binary_cross_entropy_with_logits(pred_kpts[..., 2], visible.float())
            terms = {"loss_box": loss_box * cfg.box_gain, "loss_pose": loss_pose * cfg.pose_gain,
                     "loss_kobj": loss_kobj * cfg.kobj_gain, "loss_dfl": loss_dfl * cfg.dfl_gain}
        return {**terms, "loss_cls": loss_cls * cfg.cls_gain}

    # ----------------------------------------------------------------------- inference

    @torch.no_grad()
    def select(self, outputs, score_thr: float | None = None, iou_thr: float | None = None,
               max_det: int | None = None) -> list[Tensor]:
        """The anchors the model keeps, per image: (N_i,) long indices into A, best first.

        Ultralytics' NMS: anchors whose best class score exceeds score_thr (default config.score_thr =
        0.25; 0.001 for evaluation), the max_nms best of them, greedy box NMS per class at iou_thr (0.7),
        the max_det (300) best kept. These are the "selected" predictions of the TAE metric.
        """
        scores, labels = outputs[0].float().sigmoid().max(-1)  # (B, A)
        return self._select(scores, labels, outputs[1].float(), score_thr, iou_thr, max_det)

    def _select(self, scores: Tensor, labels: Tensor, boxes: Tensor, score_thr: float | None,
                iou_thr: float | None, max_det: int | None) -> list[Tensor]:
        cfg = self.config
        score_thr = cfg.score_thr if score_thr is None else score_thr
        iou_thr = cfg.nms_iou_thr if iou_thr is None else iou_thr
        max_det = cfg.max_det if max_det is None else max_det
        selected = []
        for i in range(scores.shape[0]):  # one NMS per image bounds its (N, N) overlap matrix
            candidates = (scores[i] > score_thr).nonzero().squeeze(1)  # (N,)
            candidates = candidates[scores[i, candidates].topk(min(cfg.max_nms, len(candidates))).indices]
            selected.append(candidates[batched_nms(boxes[i, candidates], scores[i, candidates],
                                                   labels[i, candidates], iou_thr, max_det)])
        return selected

    @staticmethod
    def dense_keypoints(outputs) -> Tensor:
        """Every anchor's keypoints (B, A, K, 2) in input pixels: the candidates of the TAE metric."""
        return outputs[2][..., :2].float()

    @torch.no_grad()
    def decode(self, outputs, metas: dict | None = None, score_thr: float | None = None,
               iou_thr: float | None = None, max_det: int | None = None) -> list[Poses]:
        """Dense outputs -> per image Poses in original-image pixels, best first: `select`'s anchors.

        metas from `preprocess` ("matrix" (B, 2, 3) image -> input, "image_size" (B, 2) as (h, w));
        None means the outputs are already in image pixels.
        """
        boxes, keypoints = outputs[1].float(), outputs[2].float()
        scores, labels = outputs[0].float().sigmoid().max(-1)  # (B, A)
        matrices, sizes = self.image_metas(metas, scores.shape[0])
        kept_per_image = self._select(scores, labels, boxes, score_thr, iou_thr, max_det)
        return [self.to_image_poses(keypoints[i, kept, :, :2], keypoints[i, kept, :, 2].sigmoid(), boxes[i, kept],
                                    scores[i, kept], matrices[i], sizes[i])
                for i, kept in enumerate(kept_per_image)]


# --------------------------------------------------------------------------- variants

_V8_PAPER = "Ultralytics YOLOv8 (Jocher, Chaurasia and Qiu, 2023), pose task"
_11_PAPER = "Ultralytics YOLO11 (Jocher and Qiu, 2024), pose task"
_ASSETS = "https://github.com/ultralytics/assets/releases/download"

# name: (version, scale, exact params at nc=1, GMACs at 640 (FlopCounterMode / 2), COCO val pose mAP50-95)
_VARIANTS = {
    "yolov8-pose-n": ("v8", "n", 3_295_470, 4.589, 50.4),
    "yolov8-pose-s": ("v8", "s", 11_626_046, 15.093, 60.0),
    "yolov8-pose-m": ("v8", "m", 26_464_462, 40.511, 65.0),
    "yolov8-pose-l": ("v8", "l", 44_489_196, 84.275, 67.6),
    "yolov8-pose-x": ("v8", "x", 69_491_724, 131.604, 69.2),
    "yolo11-pose-n": ("11", "n", 2_874_462, 3.733, 50.0),
    "yolo11-pose-s": ("11", "s", 9_918_238, 11.586, 58.9),
    "yolo11-pose-m": ("11", "m", 20_912_364, 35.753, 64.9),
    "yolo11-pose-l": ("11", "l", 26_169_836, 45.279, 66.1),
    "yolo11-pose-x": ("11", "x", 58_798_636, 101.570, 69.5),
}


def _build(version: str, scale: str, overrides: dict) -> YOLOPose:
    s = YOLO_VERSIONS[version].scales[scale]
    config = YOLOPoseConfig(version, s.depth, s.width, s.max_channels, s.c3k)
    return YOLOPose(configure(config, overrides, "YOLO-pose"))


def _register(name: str, version: str, scale: str, params: int, gmacs: float, ap: float) -> None:
    url = (f"{_ASSETS}/v8.2.0/yolov8{scale}-pose.pt" if version == "v8"
           else f"{_ASSETS}/v8.3.0/yolo11{scale}-pose.pt")
    card = ModelCard(name=name, family="yolo-pose", paradigm="one-stage",
                     paper=_V8_PAPER if version == "v8" else _11_PAPER, input_size=(640, 640),
                     params_m=round(params / 1e6, 3), gmacs=gmacs, coco_ap=ap, checkpoint_url=url,
                     notes="AP is Ultralytics' COCO val2017 pose mAP50-95; params at nc=1, unfused; "
                           "Ultralytics quotes GFLOPs = 2 x these GMACs",
                     extra={"params": params, "version": version, "scale": scale})
    register_model(card)(lambda **overrides: _build(version, scale, overrides))


for _name, _spec in _VARIANTS.items():
    _register(_name, *_spec)
