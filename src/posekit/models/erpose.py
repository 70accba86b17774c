"""ER-Pose (Li et al. 2026, "Rethinking Keypoint-Driven Representation Learning for Real-Time Human
Pose Estimation", arXiv 2603.08681): a YOLOv8-pose backbone and PAN neck with no box branch, a
keypoint-driven assignment, dual one-to-many / one-to-one heads and the Smooth-OKS loss. NMS-free.

    model = create_model("erpose-s")
    batch, metas = model.preprocess([image_rgb])          # letterbox (centred, pad 114), RGB 0-255
    poses = model.for_inference().decode(model(batch), metas)   # list[Poses]; no NMS of any kind

forward(images) sees RGB / 255 and returns a dict of dense tensors per head ("sah" and, while
training, "mah"; A grid cells over the levels the head reads, level by level, row-major):
    {head}_conf       (B, A)           person-confidence logits
    {head}_keypoints  (B, A, K, 3)     x, y in input pixels and the visibility logit
    {head}_boxes      (B, A, 4)        only with `with_box_branch` (the table III ablation): xyxy px
    {head}_box_logits (B, A, 4, 16)    the DFL distributions behind {head}_boxes

Architecture (`ERPoseConfig`, variants as data):
- trunk: Ultralytics YOLOv8's CSPDarknet + PAN (`yolo_pose.build_backbone_neck("v8", scale)`, the
  n/s/m/l depth/width/max-channel scales), modules numbered `model.{i}` as Ultralytics numbers them;
- levels (table V): n reads {P4, P5}, s/m/l read {P3, P4, P5};
- one head = per level a confidence branch [DWConv3x3, Conv1x1] x 2 -> 1x1 (YOLO11's depthwise class
  branch, one output) and a keypoint branch Conv3x3 -> Conv3x3 -> 1x1 to K x (dx, dy, visibility).
  Keypoint i of cell (x_c, y_c, stride) is (x_c + dx stride, y_c + dy stride): offsets from the cell
  centre in stride units;
- widths: Ultralytics' Pose-head rule from the neck's P3 width c0 (also for n, whose heads do not
  read P3): confidence width c0, keypoint width max(c0 / 4, 3K). Trunk + one head then gives
  2.527 / 9.689 / 23.042 / 39.456 M for n/s/m/l against the paper's 2.53 / 9.69 / 23.36 / 39.95 M
  (-0.1 / -0.0 / -1.4 / -1.2 %); n and s are exact, which is what pinned the rule;
- two heads with the same layout: MAH (one-to-many, top-10 per person) and SAH (one-to-one,
  top-1). As YOLOv10, whose dual assignment the paper adopts, SAH reads detached features while MAH
  is trained beside it (`detach_sah`), so the backbone learns from the dense MAH signal.
  `for_inference()` returns a copy with only the inference head (SAH), which is what the parameter
  counts count.

Training (`loss`), per head, each with its own predictions:
- keypoint-driven assignment (algorithm 1, `KeypointDrivenAssigner`): score = conf^alpha * OKS^beta
  (alpha 0.5, beta 6), OKS of the cell's predicted pose against the person's (eq. 2: s^2 = the
  person's box area, k_i = 2 sigma_i), top-k cells per person (10 for MAH, 1 for SAH); a cell kept
  by two people goes to the one with the higher score. Algorithm 1 scores every cell; as TOOD and
  Ultralytics do, candidates are restricted to cells whose point lies in the person's box, the box
  grown to at least one cell per level (so a person smaller than a cell still has candidates);
- loss (eq. 12) = 15 (1 - SOKS) + 1 BCE(visibility) + 1 BCE(confidence). The confidence target:
  eq. 11 writes c in {0, 1}; by default (`conf_target="aligned"`) positives get the task-aligned
  soft target of TOOD / YOLOv8 / YOLOv10, with OKS in place of IoU (score / the person's best score
  x the person's best OKS), which makes the confidence rank poses by quality, the property the paper
  shows in fig. 13; `conf_target="binary"` is the literal reading. Confidence BCE is summed over
  cells and divided by the summed targets (Ultralytics), the pose and visibility terms are means
  over positives; the visibility target is "labelled" (v > 0), as Ultralytics' kobj.
- `pose_loss` picks the ablation's loss (table IX): "soks" | "oks" | "laplace" (`pose_losses`).

Ablation switches: `heads` "both" | "sah" | "mah" and `inference_head` (table VII; MAH inference uses
OKS-NMS, `oks_nms_thr`, the only place any suppression exists); `with_box_branch` and
`assignment` "keypoint" | "box" (table III; box-driven = Ultralytics' task-aligned assigner on
CIoU, adding CIoU + DFL box losses with YOLOv8's gains 7.5 / 1.5); `alpha`, `beta` (table VIII).

Decoding: the inference head's cells with confidence above `score_thr`, best first, at most
`max_det`: no suppression (`select` returns those cells, the "selected" predictions of TAE,
`posekit.eval.tae`). A Poses box is the box branch's box when there is one, else the extent of the
keypoints whose visibility score is >= `box_vis_thr` (all keypoints when none is). See docs/erpose.md.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.core.errors import ConfigError, InputError
from posekit.core.poses import Poses
from posekit.core.skeleton import get_skeleton
from posekit.models.onestage import OneStageModel, flatten_levels, grid_points, points_for_outputs, read_targets
from posekit.models.pose_losses import SIMILARITIES, KeypointSimilarityLoss, sigmas_to_constants
from posekit.models.registry import ModelCard, configure, register_model
from posekit.models.yolo_pose import (DFL, YOLO_VERSIONS, TaskAlignedAssigner, TaskAlignedAssignment,
                                      build_backbone_neck, complete_iou, dfl_loss)
from posekit.nn.ops import box_area, box_to_distance, distance_to_box, oks_nms
from posekit.nn.yolo_blocks import Conv, DWConv, run_graph

HEADS = ("mah", "sah")          # one-to-many (training only) and one-to-one (kept at inference)
LEVEL_STRIDES = {3: 8, 4: 16, 5: 32}


# --------------------------------------------------------------------------- configuration

@dataclass(frozen=True)
class ERPoseConfig:
    """Architecture, dual-head and assignment options, loss weights and test settings."""

    depth: float                               # YOLOv8 scale of the trunk
    width: float
    max_channels: int
    levels: tuple[int, ...] = (3, 4, 5)       # PAN outputs the heads read: P3 / P4 / P5 (table V)
    conf_width: int = 0                        # hidden widths; 0: the Pose-head rule (module docstring)
    keypoint_width: int = 0
    input_size: tuple[int, int] = (640, 640)  # (height, width), multiples of 32
    skeleton: str = "coco"
    # heads (table VII)
    heads: str = "both"                        # "both" | "sah" | "mah"
    inference_head: str = "sah"                # "sah" | "mah" (MAH inference uses OKS-NMS)
    detach_sah: bool = True                    # SAH reads detached features when MAH is trained beside it
    # box branch ablation (table III)
    with_box_branch: bool = False
    reg_max: int = 16
    assignment: str = "keypoint"               # "keypoint" | "box" (box needs with_box_branch)
    # assignment (algorithm 1, table VIII)
    alpha: float = 0.5
    beta: float = 6.0
    mah_topk: int = 10
    sah_topk: int = 1
    conf_target: str = "aligned"               # "aligned" (soft, OKS-aware) | "binary" (eq. 11 literally)
    # loss (eq. 12, table IX)
    pose_loss: str = "soks"                    # "soks" | "oks" | "laplace"
    pose_gain: float = 15.0
    vis_gain: float = 1.0
    conf_gain: float = 1.0
    box_gain: float = 7.5                      # with_box_branch only (YOLOv8's gains)
    dfl_gain: float = 1.5
    # test
    score_thr: float = 0.25
    max_det: int = 300
    box_vis_thr: float = 0.5
    oks_nms_thr: float = 0.7                   # inference_head="mah" only

    @property
    def strides(self) -> tuple[int, ...]:
        return tuple(LEVEL_STRIDES[level] for level in self.levels)

    @property
    def trained_heads(self) -> tuple[str, ...]:
        return HEADS if self.heads == "both" else (self.heads,)

    def validate(self) -> None:
        choices = {"heads": ("both", "sah", "mah"), "inference_head": HEADS, "assignment": ("keypoint", "box"),
                   "conf_target": ("aligned", "binary"), "pose_loss": tuple(SIMILARITIES)}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(f"ER-Pose {name}='{getattr(self, name)}' is unknown: use one of {list(allowed)}")
        if self.inference_head not in self.trained_heads:
            raise ConfigError(f"ER-Pose inference_head='{self.inference_head}' is not among the trained heads "
                              f"{list(self.trained_heads)}: set heads='both' or inference_head='{self.heads}'")
        if self.assignment == "box" and not self.with_box_branch:
            raise ConfigError("ER-Pose assignment='box' needs predicted boxes: set with_box_branch=True")
        if not self.levels or any(level not in LEVEL_STRIDES for level in self.levels) \
                or list(self.levels) != sorted(set(self.levels)):
            raise ConfigError(f"ER-Pose levels {self.levels} must be increasing, from 3 (P3), 4 (P4), 5 (P5)")
        if min(self.mah_topk, self.sah_topk) < 1:
            raise ConfigError("ER-Pose mah_topk and sah_topk must be >= 1")


# --------------------------------------------------------------------------- head

def head_widths(p3_channels: int, num_keypoints: int) -> tuple[int, int]:
    """Ultralytics' Pose-head widths from the P3 width: (confidence c0, keypoints max(c0 / 4, 3K))."""
    return p3_channels, max(p3_channels // 4, 3 * num_keypoints)


def decode_offsets(raw: Tensor, points: Tensor) -> Tensor:
    """raw (B, A, K, 3) offsets in strides + visibility logit; points (A, 3) cell centres (x, y, stride)
    -> (B, A, K, 3): x, y in input pixels, the visibility logit unchanged."""
    xy = points[:, None, :2] + raw[..., :2] * points[:, None, 2:3]  # (B, A, K, 2)
    return torch.cat([xy, raw[..., 2:]], dim=-1)


class ERPoseHead(nn.Module):
    """One assignment head (MAH or SAH): per level a depthwise confidence branch, a keypoint branch
    and, for the table III ablation, a YOLOv8 DFL box branch.

    conf.{l}: [DWConv3x3(c, c), Conv1x1(c, cw)] -> [DWConv3x3(cw, cw), Conv1x1(cw, cw)] -> Conv2d 1x1(cw, 1)
    kpt.{l}:  Conv3x3(c, kw) -> Conv3x3(kw, kw) -> Conv2d 1x1(kw, 3K)
    box.{l}:  Conv3x3(c, bw) -> Conv3x3(bw, bw) -> Conv2d 1x1(bw, 4 reg_max)      (with_box_branch)

    feats [(B, c_l, h_l, w_l)], points (A, 3) -> {"conf" (B, A), "keypoints" (B, A, K, 3)[, "boxes"
    (B, A, 4), "box_logits" (B, A, 4, reg_max)]}
    """

    def __init__(self, in_channels: Sequence[int], strides: Sequence[int], num_keypoints: int, conf_width: int,
                 keypoint_width: int, box_width: int = 0, reg_max: int = 16, image_size: int = 640):
        super().__init__()
        self.num_keypoints, self.reg_max = num_keypoints, reg_max
        cw, kw = conf_width, keypoint_width
        self.conf = nn.ModuleList(nn.Sequential(nn.Sequential(DWConv(c, c, 3), Conv(c, cw, 1)),
                                                nn.Sequential(DWConv(cw, cw, 3), Conv(cw, cw, 1)),
                                                nn.Conv2d(cw, 1, 1)) for c in in_channels)
        self.kpt = nn.ModuleList(nn.Sequential(Conv(c, kw, 3), Conv(kw, kw, 3), nn.Conv2d(kw, 3 * num_keypoints, 1))
                                 for c in in_channels)
        self.box = None
        if box_width:
            self.box = nn.ModuleList(nn.Sequential(Conv(c, box_width, 3), Conv(box_width, box_width, 3),
                                                   nn.Conv2d(box_width, 4 * reg_max, 1)) for c in in_channels)
            self.dfl = DFL(reg_max)
        with torch.no_grad():  # Ultralytics' priors: 5 people per 640 x 640 image; box logits 1
            for branch, s in zip(self.conf, strides):
                branch[-1].bias.fill_(math.log(5 / (image_size / s) ** 2))
            for branch in self.box or ():
                branch[-1].bias.fill_(1.0)

    def forward(self, feats: Sequence[Tensor], points: Tensor) -> dict[str, Tensor]:
        b = feats[0].shape[0]
        conf = flatten_levels([branch(f) for branch, f in zip(self.conf, feats)])[..., 0]  # (B, A)
        raw = flatten_levels([branch(f) for branch, f in zip(self.kpt, feats)])  # (B, A, 3K)
        out = {"conf": conf, "keypoints": decode_offsets(raw.reshape(b, -1, self.num_keypoints, 3), points)}
        if self.box is not None:
            box_logits = flatten_levels([branch(f) for branch, f in zip(self.box, feats)])
            box_logits = box_logits.reshape(b, -1, 4, self.reg_max)  # (B, A, 4, R)
            out["boxes"] = distance_to_box(points[:, :2], self.dfl(box_logits) * points[:, 2:3])  # (B, A, 4)
            out["box_logits"] = box_logits
        return out


# --------------------------------------------------------------------------- assignment

def keypoint_extent(keypoints: Tensor, scores: Tensor | None = None, thr: float = 0.5) -> Tensor:
    """xyxy box around keypoints (..., K, 2) whose score (..., K) is >= thr; all of them where none is."""
    if scores is None:
        return torch.cat([keypoints.amin(-2), keypoints.amax(-2)], dim=-1)
    use = scores >= thr  # (..., K)
    use = use | ~use.any(-1, keepdim=True)  # (..., K)
    inf = torch.full_like(keypoints, math.inf)
    low = torch.where(use[..., None], keypoints, inf).amin(-2)
    high = torch.where(use[..., None], keypoints, -inf).amax(-2)
    return torch.cat([low, high], dim=-1)


def log_oks(pred: Tensor, gt: Tensor, labelled: Tensor, areas: Tensor, constants: Tensor) -> Tensor:
    """log OKS (eq. 2) of every prediction against every person, without underflow.

    pred (B, A, K, 2); gt (B, M, K, 2); labelled (B, M, K) bool; areas (B, M) s^2; constants (K,) k_i
    -> (B, M, A): log(mean over labelled i of exp(-d_i^2 / (2 s^2 k_i^2))), -inf for a person with no
    labelled keypoint. Computed as a logsumexp, so poses far apart still rank correctly.
    """
    variance = 2.0 * areas.clamp(min=1.0)[..., None] * constants ** 2  # (B, M, K)
    dx = pred[:, None, :, :, 0] - gt[:, :, None, :, 0]  # (B, M, A, K)
    dy = pred[:, None, :, :, 1] - gt[:, :, None, :, 1]
    exponent = -(dx * dx + dy * dy) / variance[:, :, None]  # (B, M, A, K)
    exponent = exponent.masked_fill(~labelled[:, :, None], -math.inf)
    count = labelled.sum(-1).clamp(min=1).to(pred.dtype)  # (B, M)
    return torch.logsumexp(exponent, dim=-1) - count.log()[..., None]


class KeypointDrivenAssigner:
    """ER-Pose's keypoint-driven assignment (algorithm 1), batched over images and people.

    1. candidates: cells whose point lies in the person's box, the box grown to half a stride around
       its centre where it is smaller (every level then has a candidate); people with no labelled
       keypoint get none;
    2. score = conf^alpha * OKS^beta of each (person, candidate cell), ranked in log space;
    3. each person keeps its `topk` candidates of highest score;
    4. a cell kept by several people goes to the one with the highest score;
    5. soft target = score / (the person's best score) * (the person's best OKS).
    """

    def __init__(self, topk: int = 10, alpha: float = 0.5, beta: float = 6.0):
        self.topk, self.alpha, self.beta = topk, alpha, beta

    @torch.no_grad()
    def __call__(self, conf_logits: Tensor, pred_keypoints: Tensor, points: Tensor, gt_keypoints: Tensor,
                 gt_visible: Tensor, gt_boxes: Tensor, gt_mask: Tensor, constants: Tensor) -> TaskAlignedAssignment:
        """conf_logits (B, A); pred_keypoints (B, A, K, 2); points (A, 3) cells (x, y, stride);
        gt_keypoints (B, M, K, 2); gt_visible (B, M, K); gt_boxes (B, M, 4) xyxy; gt_mask (B, M) bool
        (False = padding); constants (K,) the k_i. All coordinates in the same pixels.
        -> gt_index (B, A) (-1 background), foreground (B, A), scores (B, A) soft targets."""
        b, a = conf_logits.shape
        m = gt_keypoints.shape[1]
        if m == 0 or a == 0:
            background = torch.full((b, a), -1, dtype=torch.long, device=conf_logits.device)
            return TaskAlignedAssignment(background, background >= 0, conf_logits.new_zeros(b, a))
        labelled = gt_visible > 0  # (B, M, K)
        centre = (gt_boxes[..., :2] + gt_boxes[..., 2:]) / 2  # (B, M, 2)
        half = (gt_boxes[..., None, 2:] - gt_boxes[..., None, :2]) / 2  # (B, M, 1, 2)
        half = torch.maximum(half, points[:, 2:3] / 2)  # (B, M, A, 2): at least half a stride
        inside = ((points[:, :2] - centre[:, :, None]).abs() <= half).all(-1)  # (B, M, A)
        candidate = inside & (gt_mask.bool() & labelled.any(-1))[..., None]  # (B, M, A)

        oks_log = log_oks(pred_keypoints, gt_keypoints, labelled, box_area(gt_boxes), constants)  # (B, M, A)
        score = self.alpha * F.logsigmoid(conf_logits)[:, None]  # (B, 1, A)
        if self.beta:  # beta = 0 ranks by confidence alone (table VIII), and 0 * -inf would be NaN
            score = score + self.beta * oks_log
        score = score.expand(b, m, a).masked_fill(~candidate, -math.inf)  # (B, M, A) log scores

        top = score.topk(min(self.topk, a), dim=-1).indices  # (B, M, k)
        positive = torch.zeros_like(candidate).scatter_(-1, top, True) & candidate  # (B, M, A)
        claimed_twice = positive.sum(1, keepdim=True) > 1  # (B, 1, A)
        winner = score.masked_fill(~positive, -math.inf).argmax(1)  # (B, A)
        positive = torch.where(claimed_twice, F.one_hot(winner, m).transpose(1, 2).bool(), positive)

        foreground = positive.any(1)  # (B, A)
        gt_index = torch.where(foreground, positive.to(torch.uint8).argmax(1), -1)
        best_score = score.masked_fill(~positive, -math.inf).amax(-1, keepdim=True)  # (B, M, 1)
        relative = torch.where(positive, torch.exp(score - best_score), 0.0)  # (B, M, A) in (0, 1]
        best_oks = torch.where(positive, oks_log.exp(), 0.0).amax(-1, keepdim=True)  # (B, M, 1)
        soft = (relative * best_oks).amax(1)  # (B, A)
        return TaskAlignedAssignment(gt_index, foreground, soft)


# --------------------------------------------------------------------------- model

class ERPose(OneStageModel):
    """ER-Pose. images (B, 3, H, W) RGB 0-255 -> dict of dense tensors per head (module docstring)."""

    evaluation_options = {"score_thr": 0.001}

    def __init__(self, config: ERPoseConfig):
        super().__init__(config.input_size, get_skeleton(config.skeleton))
        config.validate()
        self.require_input_multiple(32, "ER-Pose")
        self.config = cfg = dataclasses.replace(config, input_size=self.input_size)
        trunk = build_backbone_neck("v8", (cfg.depth, cfg.width, cfg.max_channels))
        p3 = trunk.out_channels[0]
        rule_conf, rule_kpt = head_widths(p3, self.num_keypoints)
        channels = [trunk.out_channels[level - 3] for level in cfg.levels]
        self.model = trunk.model
        self.sources = trunk.sources
        self.feature_indices = tuple(trunk.out_indices[level - 3] for level in cfg.levels)
        self.heads = nn.ModuleDict({
            name: ERPoseHead(channels, cfg.strides, self.num_keypoints, cfg.conf_width or rule_conf,
                             cfg.keypoint_width or rule_kpt,
                             box_width=max(16, p3 // 4, 4 * cfg.reg_max) if cfg.with_box_branch else 0,
                             reg_max=cfg.reg_max, image_size=max(self.input_size))
            for name in cfg.trained_heads})
        constants = sigmas_to_constants(self.skeleton.sigmas, self.num_keypoints)
        self.register_buffer("constants", torch.as_tensor(constants), persistent=False)
        self.pose_loss = KeypointSimilarityLoss(constants, cfg.pose_loss)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        feats = run_graph(self.model, self.sources, images / 255.0, self.feature_indices)
        # float32 points make the decoded pixels float32 under autocast too
        points = grid_points([f.shape[-2:] for f in feats], self.config.strides, offset=0.5,
                             device=feats[0].device)  # (A, 3)
        detach = self.config.detach_sah and "mah" in self.heads
        out = {}
        for name, head in self.heads.items():
            inputs = [f.detach() for f in feats] if name == "sah" and detach else feats
            out.update({f"{name}_{key}": value for key, value in head(inputs, points).items()})
        return out

    def for_inference(self) -> "ERPose":
        """A copy in eval mode with only the inference head (SAH by default); `self` is untouched."""
        model = copy.deepcopy(self).eval()
        for name in list(model.heads):
            if name != self.config.inference_head:
                del model.heads[name]
        return model

    def anchor_points(self, num_cells: int, device=None) -> Tensor:
        """Cell centres (A, 3) as (x, y, stride) for outputs with A cells: those of the model's input
        size, or of the square input with A cells."""
        return points_for_outputs(num_cells, self.input_size, self.config.strides, 0.5, device)[0]

    # ----------------------------------------------------------------------- training

    def loss(self, outputs: dict[str, Tensor], targets: dict) -> dict[str, Tensor]:
        """Eq. 12 for every trained head. outputs from forward (training mode); targets: the padded
        whole-image dict (boxes, keypoints, visible, areas, mask) in input pixels.

        -> {"loss_pose_{head}": 15 (1 - SOKS), "loss_vis_{head}": 1 BCE, "loss_conf_{head}": 1 BCE
        [, "loss_box_{head}", "loss_dfl_{head}"]} for head in mah, sah.
        """
        missing = [f"{name}_conf" for name in self.config.trained_heads if f"{name}_conf" not in outputs]
        if missing:
            raise InputError(f"ER-Pose loss needs the outputs of every trained head, missing {missing}: pass "
                             f"forward's outputs of the training model, not of for_inference()")
        first = outputs[f"{self.config.trained_heads[0]}_conf"]
        t = read_targets(targets, self.num_keypoints, first.device)
        points = self.anchor_points(first.shape[1], first.device)  # (A, 3)
        terms = {}
        for name in self.config.trained_heads:
            topk = self.config.mah_topk if name == "mah" else self.config.sah_topk
            head_outputs = {key[len(name) + 1:]: value.float() for key, value in outputs.items()
                            if key.startswith(name + "_")}
            head_terms = self.head_loss(head_outputs, t, points, topk)
            terms.update({f"{key}_{name}": value for key, value in head_terms.items()})
        return terms

    def assign(self, outputs: dict[str, Tensor], t: dict[str, Tensor], points: Tensor,
               topk: int) -> TaskAlignedAssignment:
        """One head's positives: keypoint-driven (default) or, for the table III ablation, box-driven."""
        cfg = self.config
        conf = outputs["conf"].detach()
        if cfg.assignment == "box":
            assigner = TaskAlignedAssigner(topk, cfg.alpha, cfg.beta)
            return assigner(conf.sigmoid()[..., None], outputs["boxes"].detach(), points[:, :2], t["boxes"],
                            torch.zeros_like(t["mask"], dtype=torch.long), t["mask"])
        assigner = KeypointDrivenAssigner(topk, cfg.alpha, cfg.beta)
        return assigner(conf, outputs["keypoints"][..., :2].detach(), points, t["keypoints"], t["visible"],
                        t["boxes"], t["mask"], self.constants.to(conf))

    def head_loss(self, outputs: dict[str, Tensor], t: dict[str, Tensor], points: Tensor,
                  topk: int) -> dict[str, Tensor]:
        """Eq. 12 for one head. outputs: conf (B, A), keypoints (B, A, K, 3)[, boxes, box_logits]."""
        cfg = self.config
        conf, keypoints = outputs["conf"], outputs["keypoints"]
        assigned = self.assign(outputs, t, points, topk)
        target = assigned.scores if cfg.conf_target == "aligned" else assigned.foreground.to(conf.dtype)  # (B, A)
        normaliser = target.sum().clamp(min=1.0)
        loss_conf = F.binary_cross_entropy_with_logits(conf, target, reduction="sum") / normaliser

        image, cell = assigned.foreground.nonzero(as_tuple=True)  # (N,), (N,)
        names = ["pose", "vis"] + (["box", "dfl"] if "boxes" in outputs else [])
        if len(cell) == 0:
            zero = sum(v.sum() for v in outputs.values()) * 0.0  # keeps every output in the graph
            return {**{f"loss_{n}": zero for n in names}, "loss_conf": loss_conf * cfg.conf_gain}
        person = assigned.gt_index[image, cell]  # (N,)
        visible = t["visible"][image, person]  # (N, K)
        boxes = t["boxes"][image, person]  # (N, 4)
        pred = keypoints[image, cell]  # (N, K, 3)
        loss_pose = self.pose_loss(pred[..., :2], t["keypoints"][image, person], visible, box_area(boxes)).mean()
        loss_vis = F.binary_cross_entropy_with_logits(pred[..., 2], (visible > 0).to(pred.dtype))
        terms = {"loss_pose": loss_pose * cfg.pose_gain, "loss_vis": loss_vis * cfg.vis_gain,
                 "loss_conf": loss_conf * cfg.conf_gain}
        if "boxes" in outputs:
            weight = assigned.scores[image, cell]  # (N,)
            stride = points[cell, 2:3]  # (N, 1)
            loss_box = ((1.0 - complete_iou(outputs["boxes"][image, cell], boxes)) * weight).sum() / normaliser
            distances = box_to_distance(points[cell, :2], boxes) / stride  # (N, 4) in bins
            loss_dfl = (dfl_loss(outputs["box_logits"][image, cell], distances) * weight).sum() / normaliser
            terms.update(loss_box=loss_box * cfg.box_gain, loss_dfl=loss_dfl * cfg.dfl_gain)
        return terms

    # ----------------------------------------------------------------------- inference

    def _inference_outputs(self, outputs: dict[str, Tensor]) -> tuple[Tensor, Tensor, Tensor]:
        """-> scores (B, A) probabilities, keypoints (B, A, K, 3) (visibility as a probability) and
        boxes (B, A, 4) of the inference head, in input pixels."""
        cfg = self.config
        head = cfg.inference_head
        if f"{head}_conf" not in outputs:
            raise InputError(f"decode needs the '{head}' head's outputs, got {sorted(outputs)}: pass forward's "
                             f"outputs of this model")
        scores = outputs[f"{head}_conf"].float().sigmoid()  # (B, A)
        keypoints = outputs[f"{head}_keypoints"].float()
        keypoints = torch.cat([keypoints[..., :2], keypoints[..., 2:].sigmoid()], dim=-1)  # (B, A, K, 3)
        boxes = outputs.get(f"{head}_boxes")
        if boxes is None:
            boxes = keypoint_extent(keypoints[..., :2], keypoints[..., 2], cfg.box_vis_thr)
        return scores, keypoints, boxes.float()

    def dense_keypoints(self, outputs: dict[str, Tensor]) -> Tensor:
        """Every cell's keypoints (B, A, K, 2) of the inference head in input pixels: the candidates
        of the TAE metric."""
        return self._inference_outputs(outputs)[1][..., :2]

    @torch.no_grad()
    def select(self, outputs: dict[str, Tensor], score_thr: float | None = None,
               max_det: int | None = None) -> list[Tensor]:
        """The cells the model keeps, per image: (N_i,) long indices into A, best first.

        SAH (default): the cells whose confidence exceeds score_thr (default config.score_thr), at most
        max_det of them: no suppression. MAH (the inference_head="mah" ablation): the same, then OKS-NMS
        at config.oks_nms_thr (OKS over the predicted keypoints, areas of the keypoint boxes).
        These are the "selected" predictions of the TAE metric (`posekit.eval.tae`).
        """
        return self._select(*self._inference_outputs(outputs), score_thr, max_det)

    def _select(self, scores: Tensor, keypoints: Tensor, boxes: Tensor, score_thr: float | None,
                max_det: int | None) -> list[Tensor]:
        cfg = self.config
        score_thr = cfg.score_thr if score_thr is None else score_thr
        max_det = cfg.max_det if max_det is None else max_det
        selected = []
        for i in range(scores.shape[0]):  # per image: thresholds give ragged results
            candidates = (scores[i] > score_thr).nonzero().squeeze(1)  # (N,)
            order = torch.sort(scores[i, candidates], descending=True, stable=True).indices
            kept = candidates[order][:max_det]
            if cfg.inference_head == "mah" and len(kept):
                kept = kept[oks_nms(keypoints[i, kept, :, :2], scores[i, kept], box_area(boxes[i, kept]),
                                    self.constants / 2, cfg.oks_nms_thr, max_det=max_det)]
            selected.append(kept)
        return selected

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor], metas: dict | None = None, score_thr: float | None = None,
               max_det: int | None = None) -> list[Poses]:
        """Dense outputs -> per image Poses in original-image pixels, best first.

        metas from `preprocess` ("matrix" (B, 2, 3) image -> input, "image_size" (B, 2) as (h, w)); None
        means the outputs are already in image pixels. The kept cells are `select`'s: the inference
        head's cells above score_thr (0.25 by default; 0.001 for evaluation), the max_det best, no NMS.
        """
        scores, keypoints, boxes = self._inference_outputs(outputs)
        matrices, sizes = self.image_metas(metas, scores.shape[0])
        kept_per_image = self._select(scores, keypoints, boxes, score_thr, max_det)
        return [self.to_image_poses(keypoints[i, kept, :, :2], keypoints[i, kept, :, 2], boxes[i, kept],
                                    scores[i, kept], matrices[i], sizes[i])
                for i, kept in enumerate(kept_per_image)]


# --------------------------------------------------------------------------- variants

_PAPER = ("Li, Cheng, Liu, Tian and Wang, ER-Pose: Rethinking Keypoint-Driven Representation Learning for "
          "Real-Time Human Pose Estimation, arXiv 2603.08681 (2026)")

# name: (YOLOv8 scale, levels, paper params (M, table I), COCO val2017 AP (tables IV/IX), test-dev AP (table I))
_VARIANTS = {
    "erpose-n": ("n", (4, 5), 2.53, 57.1, 56.0),
    "erpose-s": ("s", (3, 4, 5), 9.69, 65.8, 64.2),
    "erpose-m": ("m", (3, 4, 5), 23.36, 69.7, 68.2),
    "erpose-l": ("l", (3, 4, 5), 39.95, None, 70.2),
}


def _build(scale: str, levels: tuple[int, ...], overrides: dict) -> ERPose:
    s = YOLO_VERSIONS["v8"].scales[scale]
    return ERPose(configure(ERPoseConfig(s.depth, s.width, s.max_channels, levels=levels), overrides, "ER-Pose"))


def _register(name: str, scale: str, levels: tuple[int, ...], params_m: float, val_ap: float | None,
              test_dev_ap: float) -> None:
    card = ModelCard(name=name, family="erpose", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
                     params_m=params_m, coco_ap=val_ap,
                     notes="no official code or weights; params and test-dev AP from the paper's table I, "
                           "val AP from tables IV/IX (none given for l); NMS-free",
                     extra={"scale": scale, "levels": levels, "coco_test_dev_ap": test_dev_ap})
    register_model(card)(lambda **overrides: _build(scale, levels, overrides))


for _name, _spec in _VARIANTS.items():
    _register(_name, *_spec)
