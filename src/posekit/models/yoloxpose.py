"""YOLOX-Pose (Maji et al. 2022, MMPose 1.x): CSPDarknet + YOLOXPAFPN + YOLOXPoseHead.

    model = create_model("yoloxpose-s")
    batch, metas = model.preprocess([image_rgb])      # letterbox to 640x640, centred, pad 114
    poses = model.decode(model(batch), metas)         # list[Poses] in original-image pixels

Every grid point (strides 8, 16, 32) predicts a person: class and objectness logits, a box
(centre offset and log size in stride units) and K keypoint offsets (stride units) with a
visibility logit each. forward(images RGB 0-255) flips to BGR (the official weights saw raw cv2
BGR 0-255) and returns a dict of dense tensors, A grid points level by level, row-major:

    cls_logits       (B, A)        person class logit
    obj_logits       (B, A)        objectness logit; score = sigmoid(cls) * sigmoid(obj)
    boxes            (B, A, 4)     xyxy, input pixels
    keypoints        (B, A, K, 2)  input pixels
    keypoint_logits  (B, A, K)     visibility logits; keypoint score = sigmoid
    priors           (A, 3)        grid point (x, y, stride) of each prediction

Training (`loss`) assigns grid points to people with SimOTA (cost 3 -log IoU + 3 -log OKS + BCE of
sqrt(cls * obj); dynamic k from the 10 best OKS) and applies MMPose's YOLOXPoseHead losses:
objectness BCE (w1), square-IoU box loss (w5), OKS loss (w30), visibility BCE (w1) and class BCE
towards OKS^0.5 (w1); the box-offset L1 (`use_aux_loss`, the official last-20-epochs switch) is off
by default. `decode` keeps scores above `score_thr`, runs box NMS at `nms_thr` per image and keeps
the `max_per_img` best (MMPose keeps all; the cap bounds crowded images and matches COCO's use of
at most 20 people per image with room to spare).

Module names follow mmpose (`backbone.*`, `neck.*`, `head.head_module.*`, `head.loss_oks.sigmas`),
so an official checkpoint's state_dict loads as it is.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.core.errors import ConfigError
from posekit.core.poses import Poses
from posekit.core.skeleton import get_skeleton
from posekit.models.onestage import OneStageModel, best_per_image, flatten_levels, grid_points, read_targets
from posekit.models.registry import ModelCard, configure, register_model
from posekit.nn.conv import ConvModule
from posekit.nn.cspdarknet import CSPDarknet
from posekit.nn.ops import batched_nms, box_iou
from posekit.nn.pafpn import YOLOXPAFPN

# CSPDarknet, YOLOXPAFPN and the head all use Swish (= SiLU) and BN(momentum 0.03, eps 0.001).
CONV_KWARGS = dict(act="silu", bn_eps=1e-3, bn_momentum=0.03)
INF = 1e5          # SimOTA's cost for a grid point outside a person's box-and-centre region
EXCLUDED = 1e8     # cost of grid points that are no candidate at all, and of padded people
# MMPose's YOLOXPoseHead loss weights; loss_bbox_aux counts only with use_aux_loss.
LOSS_WEIGHTS = {"loss_obj": 1.0, "loss_bbox": 5.0, "loss_kpt": 30.0, "loss_vis": 1.0, "loss_cls": 1.0,
                "loss_bbox_aux": 1.0}


@dataclass(frozen=True)
class YOLOXPoseConfig:
    """Architecture, test and training settings. Neck and head widths follow widen_factor
    (neck out = head width = int(256 * widen)); neck CSP blocks max(round(3 * deepen), 1), as in
    every official YOLOX-Pose config."""

    deepen_factor: float
    widen_factor: float
    input_size: tuple[int, int] = (640, 640)  # (height, width)
    skeleton: str = "coco"
    strides: tuple[int, ...] = (8, 16, 32)
    stacked_convs: int = 2
    use_sppf: bool = False                    # SPPF: the same outputs as SPP (5, 9, 13), faster
    # test_cfg
    score_thr: float = 0.01
    nms_thr: float = 0.65
    max_per_img: int = 100
    # train_cfg
    center_radius: float = 2.5
    candidate_topk: int = 10
    iou_weight: float = 3.0
    oks_weight: float = 3.0
    cls_weight: float = 1.0
    overlaps_power: float = 0.5
    use_aux_loss: bool = False
    loss_weights: tuple[tuple[str, float], ...] = ()  # (name, weight) pairs or a dict, over LOSS_WEIGHTS


# --------------------------------------------------------------------------- head

class YOLOXPoseHeadModule(nn.Module):
    """Per level three towers of 3x3 ConvModules on the neck map: `conv_cls` (stacked_convs) ->
    `out_cls`; `conv_reg` (stacked_convs) -> `out_bbox`, `out_obj`; `conv_pose` (2 x stacked_convs)
    -> `out_kpt` (x, y per keypoint), `out_kpt_vis`.

    feats: tuple of (B, channels, h_l, w_l) -> five lists over levels of (B, C, h_l, w_l) with
    C = 1 (cls), 1 (obj), 4 (box), 2K (keypoint offsets), K (visibility).
    """

    def __init__(self, num_keypoints: int, channels: int, num_levels: int, stacked_convs: int = 2,
                 num_classes: int = 1, **conv_kwargs):
        super().__init__()

        def towers(depth):
            def tower():
                return nn.Sequential(*(ConvModule(channels, channels, 3, **conv_kwargs) for _ in range(depth)))
            return nn.ModuleList(tower() for _ in range(num_levels))

        def outputs(out_channels):
            return nn.ModuleList(nn.Conv2d(channels, out_channels, 1) for _ in range(num_levels))

        self.conv_cls = towers(stacked_convs)
        self.out_cls = outputs(num_classes)
        self.conv_reg = towers(stacked_convs)
        self.out_bbox = outputs(4)
        self.out_obj = outputs(1)
        self.conv_pose = towers(2 * stacked_convs)
        self.out_kpt = outputs(2 * num_keypoints)
        self.out_kpt_vis = outputs(num_keypoints)
        self._init_weights()

    def _init_weights(self) -> None:
        """The official init: convs Kaiming-uniform (PyTorch's default) with zero bias; class and
        objectness biases at prior probability 0.01."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.bias is not None:
                nn.init.zeros_(m.bias)
        for conv in [*self.out_cls, *self.out_obj]:
            nn.init.constant_(conv.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, feats):
        cls, obj, box, kpt, vis = [], [], [], [], []
        for level, x in enumerate(feats):
            reg_feat, pose_feat = self.conv_reg[level](x), self.conv_pose[level](x)
            cls.append(self.out_cls[level](self.conv_cls[level](x)))
            obj.append(self.out_obj[level](reg_feat))
            box.append(self.out_bbox[level](reg_feat))
            kpt.append(self.out_kpt[level](pose_feat))
            vis.append(self.out_kpt_vis[level](pose_feat))
        return cls, obj, box, kpt, vis


class OKSLoss(nn.Module):
    """1 - OKS of each prediction with its target, as MMPose's OKSLoss(norm_target_weight=True):
    OKS = sum_k w_k exp(-d_k^2 / (2 area (2 sigma_k)^2)) / sum_k w_k.

    pred, target (N, K, 2); weights (N, K) (visibility); areas (N,) -> (N,). `sigmas` is a
    persistent buffer, as in the official state dict (`head.loss_oks.sigmas`).
    """

    def __init__(self, sigmas, eps: float = 1e-8):
        super().__init__()
        self.eps = eps
        self.register_buffer("sigmas", torch.as_tensor(sigmas, dtype=torch.float32))

    def forward(self, pred: Tensor, target: Tensor, weights: Tensor, areas: Tensor) -> Tensor:
        return 1 - pose_oks(pred, target, weights, areas, self.sigmas, self.eps)


def pose_oks(pred: Tensor, target: Tensor, weights: Tensor, areas: Tensor, sigmas: Tensor,
             eps: float = 1e-8) -> Tensor:
    """OKS as MMPose's PoseOKS / OKSLoss compute it, broadcasting over leading dimensions.

    pred (..., K, 2), target (..., K, 2), weights (..., K), areas (...), sigmas (K,) -> (...).
    Distances are divided by sqrt(area) (at least eps) and 2 sigma; weights are normalised to sum 1.
    """
    dist = (pred - target).norm(dim=-1) / areas.sqrt().clamp(min=eps)[..., None] / (2 * sigmas)  # (..., K)
    weights = weights / weights.sum(-1, keepdim=True).clamp(min=eps)
    return (torch.exp(-dist.pow(2) / 2) * weights).sum(-1)


class YOLOXPoseHead(nn.Module):
    """The head as MMPose names it: `head_module` (the convs) and `loss_oks` (holds the sigmas)."""

    def __init__(self, num_keypoints: int, channels: int, strides, stacked_convs: int, sigmas, **conv_kwargs):
        super().__init__()
        self.strides = tuple(strides)
        self.head_module = YOLOXPoseHeadModule(num_keypoints, channels, len(self.strides), stacked_convs,
                                               **conv_kwargs)
        self.loss_oks = OKSLoss(sigmas)

    def forward(self, feats):
        return self.head_module(feats)


# --------------------------------------------------------------------------- assigner

@dataclass
class Assignment:
    """Per grid point: foreground (B, A) bool, gt_index (B, A) long (0 where background), and
    overlap (B, A) the OKS of a positive with its person (0 where background)."""

    foreground: Tensor
    gt_index: Tensor
    overlap: Tensor


class SimOTAAssigner:
    """SimOTA (YOLOX) with the OKS terms of MMPose's pose variant, batched over images.

    A grid point is a candidate for a person when it lies strictly inside the person's box or
    within `center_radius` strides of the box centre; candidates in both regions cost nothing
    extra, the others INF. Cost = iou_weight * -log(IoU) + oks_weight * -log(OKS) +
    cls_weight * BCE(score, 1). Each person takes its k cheapest candidates, k = max(1,
    int(sum of its `candidate_topk` best OKS)); a point taken by several people keeps the cheapest.
    With `use_keypoints_for_center` (RTMO-s/t), the centre region sits on the mean of the person's
    labelled keypoints instead of the box centre.
    """

    def __init__(self, sigmas: Tensor, center_radius: float = 2.5, candidate_topk: int = 10,
                 iou_weight: float = 3.0, oks_weight: float = 3.0, cls_weight: float = 1.0,
                 use_keypoints_for_center: bool = False):
        self.sigmas = sigmas
        self.center_radius = center_radius
        self.candidate_topk = candidate_topk
        self.iou_weight, self.oks_weight, self.cls_weight = iou_weight, oks_weight, cls_weight
        self.use_keypoints_for_center = use_keypoints_for_center

    def candidates(self, priors: Tensor, gt_boxes: Tensor, gt_mask: Tensor, gt_keypoints: Tensor | None = None,
                   gt_visible: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """priors (A, 3), gt_boxes (B, M, 4), gt_mask (B, M) [, gt_keypoints (B, M, K, 2), gt_visible
        (B, M, K), read with use_keypoints_for_center] -> (candidate (B, A) bool: inside some person's
        box or centre region; in_both (B, A, M) bool: inside this person's box and centre region)."""
        xy, stride = priors[:, None, :2], priors[:, None, 2:]  # (A, 1, 2), (A, 1, 1)
        boxes = gt_boxes[:, None]  # (B, 1, M, 4)
        in_box = torch.cat([xy - boxes[..., :2], boxes[..., 2:] - xy], -1).amin(-1) > 0  # (B, A, M)
        centre = (gt_boxes[..., :2] + gt_boxes[..., 2:]) / 2  # (B, M, 2)
        if self.use_keypoints_for_center and gt_keypoints is not None:
            count = gt_visible.sum(-1, keepdim=True)  # (B, M, 1)
            mean = (gt_keypoints * gt_visible[..., None]).sum(-2) / count.clamp(min=1e-8)  # (B, M, 2)
            centre = torch.where(count > 0, mean, centre)
        centre = centre[:, None]  # (B, 1, M, 2)
        in_centre = ((xy - centre).abs() - self.center_radius * stride).amax(-1) < 0  # (B, A, M)
        in_box, in_centre = in_box & gt_mask[:, None], in_centre & gt_mask[:, None]
        return (in_box | in_centre).any(-1), in_box & in_centre

    @torch.no_grad()
    def __call__(self, priors: Tensor, scores: Tensor, boxes: Tensor, keypoints: Tensor, gt_boxes: Tensor,
                 gt_keypoints: Tensor, gt_visible: Tensor, gt_areas: Tensor, gt_mask: Tensor) -> Assignment:
        """priors (A, 3) as (x, y, stride); scores (B, A) in [0, 1]; boxes (B, A, 4) xyxy;
        keypoints (B, A, K, 2); gt_boxes (B, M, 4); gt_keypoints (B, M, K, 2); gt_visible (B, M, K)
        float weights; gt_areas (B, M); gt_mask (B, M) bool."""
        b, a = scores.shape
        m = gt_boxes.shape[1]
        candidate, in_both = self.candidates(priors, gt_boxes, gt_mask, gt_keypoints, gt_visible)  # (B, A), (B, A, M)
        image, point = candidate.nonzero(as_tuple=True)  # (P,): only candidates are scored

        ious = box_iou(boxes[image, point][:, None], gt_boxes[image])[:, 0]  # (P, M)
        oks = pose_oks(keypoints[image, point][:, None], gt_keypoints[image], gt_visible[image],
                       gt_areas[image], self.sigmas.to(keypoints))  # (P, M)
        cls_cost = -torch.log(scores[image, point]).clamp(max=100)  # (P,) BCE(score, 1), clamped as torch's
        cost = (INF * ~in_both[image, point] + self.iou_weight * -torch.log(ious + 1e-7)
                + self.oks_weight * -torch.log(oks + 1e-7) + self.cls_weight * cls_cost[:, None])  # (P, M)
        valid_gt = gt_mask[image]  # (P, M)
        cost = torch.where(valid_gt, cost, EXCLUDED)

        dense_cost = scores.new_full((b, a, m), EXCLUDED)
        dense_cost[image, point] = cost
        dense_oks = scores.new_zeros((b, a, m))
        dense_oks[image, point] = torch.where(valid_gt, oks, 0.0)

        # dynamic k per person from its best OKS; at most candidate_topk since each OKS <= 1
        topk = min(self.candidate_topk, a)
        dynamic_k = dense_oks.topk(topk, dim=1).values.sum(1).int().clamp(min=1)  # (B, M)
        cheapest = dense_cost.topk(topk, dim=1, largest=False).indices  # (B, topk, M)
        take = torch.arange(topk, device=scores.device)[None, :, None] < dynamic_k[:, None]  # (B, topk, M)
        matching = torch.zeros((b, a, m), dtype=torch.bool, device=scores.device)
        matching.scatter_(1, cheapest, take)
        matching &= gt_mask[:, None]

        # a point matched to several people keeps the one it costs least
        contested = matching.sum(-1) > 1  # (B, A)
        best = F.one_hot(dense_cost.argmin(-1), m).bool()  # (B, A, M)
        matching = torch.where(contested[..., None], best, matching)
        foreground = matching.any(-1)
        gt_index = matching.float().argmax(-1)
        overlap = (dense_oks * matching).sum(-1)
        return Assignment(foreground, gt_index, overlap)


# --------------------------------------------------------------------------- model

def _iou_loss_square(pred: Tensor, target: Tensor) -> Tensor:
    """1 - IoU^2 of aligned xyxy boxes (N, 4), (N, 4) -> (N,) (MMPose IoULoss mode 'square')."""
    return 1 - box_iou(pred, target, aligned=True, eps=1e-16).pow(2)


class YOLOXPose(OneStageModel):
    """The one-stage pose model. images (B, 3, H, W) RGB 0-255 -> dict of dense tensors (module doc)."""

    def __init__(self, config: YOLOXPoseConfig):
        skeleton = get_skeleton(config.skeleton)
        super().__init__(config.input_size, skeleton)
        self.require_input_multiple(32, "YOLOX-Pose", "the Focus stem and the stride-32 level need it")
        unknown = sorted(set(dict(config.loss_weights)) - set(LOSS_WEIGHTS))
        if unknown:
            raise ConfigError(f"unknown YOLOX-Pose loss weight(s) {unknown}: use any of {sorted(LOSS_WEIGHTS)}")
        self.config = dataclasses.replace(config, input_size=self.input_size)
        self.backbone = CSPDarknet(config.deepen_factor, config.widen_factor, out_indices=(2, 3, 4),
                                   use_sppf=config.use_sppf, **CONV_KWARGS)
        width = int(256 * config.widen_factor)
        self.neck = YOLOXPAFPN(self.backbone.channels, width, max(round(3 * config.deepen_factor), 1), **CONV_KWARGS)
        self.head = YOLOXPoseHead(skeleton.num_keypoints, width, config.strides, config.stacked_convs,
                                  skeleton.sigmas, **CONV_KWARGS)
        self.assigner = SimOTAAssigner(self.head.loss_oks.sigmas, config.center_radius, config.candidate_topk,
                                       config.iou_weight, config.oks_weight, config.cls_weight)
        self.loss_weights = {**LOSS_WEIGHTS, **dict(config.loss_weights)}

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        x = images[:, [2, 1, 0]]  # RGB -> BGR, 0-255 as the official weights saw it
        cls, obj, box, kpt, vis = self.head(self.neck(self.backbone(x)))
        priors = grid_points([m.shape[-2:] for m in cls], self.config.strides, 0.0, images.device, images.dtype)
        xy, stride = priors[:, :2], priors[:, 2:]  # (A, 2), (A, 1)
        box = flatten_levels(box)  # (B, A, 4): centre offset and log size, in strides
        centre, size = box[..., :2] * stride + xy, box[..., 2:].exp() * stride
        offsets = flatten_levels(kpt)  # (B, A, 2K)
        keypoints = offsets.reshape(*offsets.shape[:2], -1, 2) * stride[:, None] + xy[:, None]  # (B, A, K, 2)
        return {"cls_logits": flatten_levels(cls)[..., 0], "obj_logits": flatten_levels(obj)[..., 0],
                "boxes": torch.cat([centre - size / 2, centre + size / 2], -1), "keypoints": keypoints,
                "keypoint_logits": flatten_levels(vis), "priors": priors}

    # ----------------------------------------------------------------------- training

    def loss(self, outputs: dict[str, Tensor], targets: dict) -> dict[str, Tensor]:
        """outputs from forward; targets: the padded whole-image dict (posekit.models.onestage.read_targets).

        -> {"loss_obj", "loss_bbox", "loss_kpt", "loss_vis", "loss_cls"} (+ "loss_bbox_aux" with
        use_aux_loss), weighted. Objectness, box, class and aux terms are sums divided by the number
        of positives (at least 1); the OKS and visibility terms are means over positives (and
        keypoints), as MMPose reduces them.
        """
        cfg = self.config
        cls_logits, obj_logits = outputs["cls_logits"].float(), outputs["obj_logits"].float()
        boxes, keypoints = outputs["boxes"].float(), outputs["keypoints"].float()
        vis_logits, priors = outputs["keypoint_logits"].float(), outputs["priors"].float()
        gt = read_targets(targets, self.num_keypoints, boxes.device)
        gt_visible = (gt["visible"] > 0).float()  # (B, M, K)

        scores = (cls_logits.detach().sigmoid() * obj_logits.detach().sigmoid()).sqrt()  # (B, A)
        assigned = self.assigner(priors, scores, boxes.detach(), keypoints.detach(), gt["boxes"], gt["keypoints"],
                                 gt_visible, gt["areas"], gt["mask"])
        fg = assigned.foreground  # (B, A)
        image, point = fg.nonzero(as_tuple=True)  # (N,) positives
        person = assigned.gt_index[image, point]  # (N,)
        normaliser = fg.sum().clamp(min=1).float()

        losses = {"loss_obj": F.binary_cross_entropy_with_logits(obj_logits, fg.float(), reduction="sum") / normaliser}
        target_boxes = gt["boxes"][image, person]  # (N, 4)
        losses["loss_bbox"] = _iou_loss_square(boxes[image, point], target_boxes).sum() / normaliser
        target_vis = gt_visible[image, person]  # (N, K)
        kpt_loss = self.head.loss_oks(keypoints[image, point], gt["keypoints"][image, person], target_vis,
                                      gt["areas"][image, person])  # (N,)
        losses["loss_kpt"] = kpt_loss.mean() if len(kpt_loss) else keypoints.sum() * 0
        vis_bce = F.binary_cross_entropy_with_logits(vis_logits[image, point], target_vis, reduction="none")
        losses["loss_vis"] = vis_bce.mean() if vis_bce.numel() else vis_logits.sum() * 0
        cls_target = assigned.overlap[image, point].pow(cfg.overlaps_power)
        losses["loss_cls"] = F.binary_cross_entropy_with_logits(cls_logits[image, point], cls_target,
                                                                reduction="sum") / normaliser
        if cfg.use_aux_loss:
            losses["loss_bbox_aux"] = self._aux_box_loss(boxes[image, point], target_boxes,
                                                         priors[point]) / normaliser
        return {name: value * self.loss_weights[name] for name, value in losses.items()}

    @staticmethod
    def _aux_box_loss(boxes: Tensor, targets: Tensor, priors: Tensor) -> Tensor:
        """L1 between raw box outputs (centre offset, log size in strides) and the same encoding of
        the targets; the raw outputs are recovered from the decoded boxes. boxes, targets (N, 4);
        priors (N, 3) -> summed loss."""

        def encode(b):
            stride = priors[:, 2:]
            return torch.cat([((b[:, :2] + b[:, 2:]) / 2 - priors[:, :2]) / stride,
                              torch.log((b[:, 2:] - b[:, :2]).clamp(min=0) / stride + 1e-8)], -1)

        return (encode(boxes) - encode(targets)).abs().sum()

    # ----------------------------------------------------------------------- inference

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor], metas: dict | None = None) -> list[Poses]:
        """Dense outputs -> one Poses per image in original-image pixels, best first.

        metas from `preprocess`: matrix (B, 2, 3) image -> input, image_size (B, 2) as (h, w);
        without metas, results stay in input pixels. Steps (MMPose's test_cfg): score =
        sigmoid(cls) * sigmoid(obj) above `score_thr`; greedy box NMS at `nms_thr` per image; then
        (posekit) at most `max_per_img` people, the best-scoring; boxes clamped to the input, and
        after mapping back, to the image.
        Keypoint scores are sigmoid(visibility logits); the pose score is the box score.
        """
        cfg = self.config
        scores = outputs["cls_logits"].float().sigmoid() * outputs["obj_logits"].float().sigmoid()  # (B, A)
        b = scores.shape[0]
        matrices, sizes = self.image_metas(metas, b)
        image, point = (scores > cfg.score_thr).nonzero(as_tuple=True)  # (N,)
        box, score = outputs["boxes"][image, point].float(), scores[image, point]  # (N, 4), (N,)
        keep = batched_nms(box, score, image, cfg.nms_thr)
        keep = keep[best_per_image(image[keep], score[keep], b, cfg.max_per_img)]
        image, point, box, score = image[keep], point[keep], box[keep], score[keep]
        h, w = self.input_size
        box = box.clamp(min=0).minimum(box.new_tensor([w, h, w, h]))  # to the input, after NMS as MMPose
        keypoints = outputs["keypoints"][image, point].float()  # (N, K, 2)
        keypoint_scores = outputs["keypoint_logits"][image, point].float().sigmoid()  # (N, K)
        counts = torch.bincount(image, minlength=b).tolist()
        return [self.to_image_poses(kp, ks, bx, sc, matrices[i], sizes[i])
                for i, (kp, ks, bx, sc) in enumerate(zip(keypoints.split(counts), keypoint_scores.split(counts),
                                                         box.split(counts), score.split(counts)))]


# --------------------------------------------------------------------------- variants

_PAPER = ("YOLO-Pose: Enhancing YOLO for Multi Person Pose Estimation Using Object Keypoint Similarity Loss "
          "(Maji et al., 2022); MMPose's YOLOX-Pose")
_URL = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/yolox_pose"


def _build(config: YOLOXPoseConfig, overrides: dict) -> YOLOXPose:
    return YOLOXPose(configure(config, overrides, "YOLOX-Pose"))


@register_model(ModelCard(
    name="yoloxpose-tiny", family="yoloxpose", paradigm="one-stage", paper=_PAPER, input_size=(416, 416),
    params_m=6.045, gmacs=4.374, coco_ap=52.6,
    checkpoint_url=f"{_URL}/yoloxpose_tiny_4xb64-300e_coco-416-76eb44ca_20230829.pth"))
def yoloxpose_tiny(**overrides) -> YOLOXPose:
    return _build(YOLOXPoseConfig(deepen_factor=0.33, widen_factor=0.375, input_size=(416, 416)), overrides)


@register_model(ModelCard(
    name="yoloxpose-s", family="yoloxpose", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
    params_m=10.730, gmacs=18.267, coco_ap=64.1,
    checkpoint_url=f"{_URL}/yoloxpose_s_8xb32-300e_coco-640-56c79c1f_20230829.pth"))
def yoloxpose_s(**overrides) -> YOLOXPose:
    return _build(YOLOXPoseConfig(deepen_factor=0.33, widen_factor=0.5), overrides)


@register_model(ModelCard(
    name="yoloxpose-m", family="yoloxpose", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
    params_m=29.296, gmacs=47.868, coco_ap=69.5,
    checkpoint_url=f"{_URL}/yoloxpose_m_8xb32-300e_coco-640-84e9a538_20230829.pth"))
def yoloxpose_m(**overrides) -> YOLOXPose:
    return _build(YOLOXPoseConfig(deepen_factor=0.67, widen_factor=0.75), overrides)


@register_model(ModelCard(
    name="yoloxpose-l", family="yoloxpose", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
    params_m=61.271, gmacs=97.404, coco_ap=71.2,
    checkpoint_url=f"{_URL}/yoloxpose_l_8xb32-300e_coco-640-de0f8dee_20230829.pth"))
def yoloxpose_l(**overrides) -> YOLOXPose:
    return _build(YOLOXPoseConfig(deepen_factor=1.0, widen_factor=1.0), overrides)
