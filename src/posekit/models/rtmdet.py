"""RTMDet person detectors (Lyu et al. 2022): CSPNeXt + CSPNeXtPAFPN + RTMDetSepBNHead.

    model = create_model("rtmdet-person-m")
    batch, metas = model.preprocess([image_rgb])          # letterbox to the input size, pad 114
    detections = model.decode(model(batch), metas)        # [{"boxes": (N, 4) xyxy, "scores": (N,), ...}]

forward(images) returns flattened dense predictions, which export to ONNX as two plain outputs:
    cls_logits (B, A, C)  class logits (sigmoid gives scores)
    boxes      (B, A, 4)  xyxy boxes in input pixels, already decoded from the grid points
with A = sum over strides 8, 16, 32 of (H / s) * (W / s), level by level, row-major in each level
(mmdet's flattening order). Module names follow mmdet (`backbone.*`, `neck.*`, `bbox_head.*`), so
an official checkpoint's state_dict loads as it is.

Training (`loss`) assigns grid points to boxes with the DynamicSoftLabelAssigner and applies QFL
(weight 1) and GIoU (weight 2), both divided by the summed IoU targets of the positives.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.core.errors import ConfigError, InputError
from posekit.models.assigners import DynamicSoftLabelAssigner
from posekit.models.det_losses import GIoULoss, QualityFocalLoss
from posekit.models.onestage import grid_points, points_for_outputs
from posekit.models.registry import ModelCard, configure, register_model
from posekit.nn.conv import ConvModule, DepthwiseSeparableConvModule
from posekit.nn.cspnext import CSPNeXt
from posekit.nn.ops import batched_nms, distance_to_box
from posekit.nn.pafpn import CSPNeXtPAFPN

# mmdet's RTMDet data_preprocessor normalises the cv2 (BGR) image in BGR order.
MEAN_BGR = (103.53, 116.28, 123.675)
STD_BGR = (57.375, 57.12, 58.395)
PAD_VALUE = 114
# All RTMDet parts use SyncBN with the class defaults, and SiLU.
CONV_KWARGS = dict(act="silu", bn_eps=1e-5, bn_momentum=0.1)


@dataclass(frozen=True)
class RTMDetConfig:
    """Architecture and test settings. The neck and head widths follow from widen_factor
    (neck in = backbone stages 2-4, neck out = head width = int(256 * widen)); the neck's CSP blocks
    from deepen_factor (max(round(3 * deepen), 1)), as in every official RTMDet config.
    """

    deepen_factor: float
    widen_factor: float
    input_size: tuple[int, int] = (640, 640)  # (height, width)
    use_depthwise: bool = False
    share_conv: bool = True                   # head conv weights tied across levels, BN per level
    exp_on_reg: bool = False
    num_classes: int = 1
    stacked_convs: int = 2
    strides: tuple[int, ...] = (8, 16, 32)
    # test_cfg
    nms_pre: int = 1000
    score_thr: float = 0.05
    nms_iou_thr: float = 0.6
    max_per_img: int = 100
    # train_cfg
    assigner_topk: int = 13


# --------------------------------------------------------------------------- geometry helpers

def letterbox_topleft(image: np.ndarray, size: tuple[int, int] | int) -> tuple[np.ndarray, np.ndarray]:
    """mmdet's test transform: Resize(keep_ratio) to fit size (H, W), then pad bottom/right with 114.

    image (h, w, 3) uint8 -> (canvas (H, W, 3) uint8, scale_factor (2,) = (new_w / w, new_h / h)).
    A box in the canvas maps back to the image by dividing x by scale_factor[0] and y by [1].
    """
    out_h, out_w = (size, size) if np.isscalar(size) else size
    h, w = image.shape[:2]
    ratio = min(out_h / h, out_w / w)
    new_w, new_h = int(w * ratio + 0.5), int(h * ratio + 0.5)  # mmcv's rescale_size rounding
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR) if (new_w, new_h) != (w, h) \
        else image
    canvas = np.full((out_h, out_w) + image.shape[2:], PAD_VALUE, dtype=image.dtype)
    canvas[:new_h, :new_w] = resized
    return canvas, np.array([new_w / w, new_h / h])


# --------------------------------------------------------------------------- head

def _tie_convs(source: nn.Module, target: nn.Module) -> None:
    """Make every nn.Conv2d of `target` the very module found at the same path in `source`."""
    for name, module in source.named_modules():
        if isinstance(module, nn.Conv2d):
            *path, leaf = name.split(".")
            parent = target
            for part in path:
                parent = getattr(parent, part)
            setattr(parent, leaf, module)


class RTMDetSepBNHead(nn.Module):
    """Per level: `stacked_convs` 3x3 convs then a 1x1 conv to class logits (`cls_convs`, `rtm_cls`),
    and the same to four edge distances (`reg_convs`, `rtm_reg`), multiplied by the level's stride.

    feats: tuple of (B, in_channels, h_l, w_l) -> (cls (B, C, h_l, w_l) per level,
    distances (B, 4, h_l, w_l) per level, in input pixels).
    """

    def __init__(self, num_classes: int, in_channels: int, feat_channels: int, strides,
                 stacked_convs: int = 2, share_conv: bool = True, use_depthwise: bool = False,
                 exp_on_reg: bool = False, **conv_kwargs):
        super().__init__()
        self.strides = tuple(strides)
        self.exp_on_reg = exp_on_reg
        conv3x3 = DepthwiseSeparableConvModule if use_depthwise else ConvModule

        def tower():
            return nn.ModuleList(conv3x3(in_channels if i == 0 else feat_channels, feat_channels, 3, **conv_kwargs)
                                 for i in range(stacked_convs))

        self.cls_convs = nn.ModuleList(tower() for _ in self.strides)
        self.reg_convs = nn.ModuleList(tower() for _ in self.strides)
        self.rtm_cls = nn.ModuleList(nn.Conv2d(feat_channels, num_classes, 1) for _ in self.strides)
        self.rtm_reg = nn.ModuleList(nn.Conv2d(feat_channels, 4, 1) for _ in self.strides)
        self._init_weights()
        if share_conv:
            for level in range(1, len(self.strides)):
                _tie_convs(self.cls_convs[0], self.cls_convs[level])
                _tie_convs(self.reg_convs[0], self.reg_convs[level])

    def _init_weights(self) -> None:
        """mmdet's: every conv N(0, 0.01), BN weight 1, class bias at prior probability 0.01."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for conv in self.rtm_cls:
            nn.init.constant_(conv.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, feats) -> tuple[list[Tensor], list[Tensor]]:
        cls_scores, distances = [], []
        for level, (x, stride) in enumerate(zip(feats, self.strides)):
            cls_feat, reg_feat = x, x
            for layer in self.cls_convs[level]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[level]:
                reg_feat = layer(reg_feat)
            reg = self.rtm_reg[level](reg_feat)
            cls_scores.append(self.rtm_cls[level](cls_feat))
            distances.append((reg.exp() if self.exp_on_reg else reg) * stride)
        return cls_scores, distances


# --------------------------------------------------------------------------- model

def _flatten_levels(maps: list[Tensor]) -> Tensor:
    """[(B, C, h_l, w_l)] -> (B, sum h_l w_l, C), level by level, row-major."""
    return torch.cat([m.flatten(2) for m in maps], dim=2).transpose(1, 2)


class RTMDet(nn.Module):
    """The detector. images (B, 3, H, W) RGB 0-255 -> (cls_logits (B, A, C), boxes (B, A, 4))."""

    paradigm = "detector"

    def __init__(self, config: RTMDetConfig):
        super().__init__()
        input_size = (config.input_size,) * 2 if isinstance(config.input_size, int) else tuple(config.input_size)
        if any(s % max(config.strides) for s in input_size):
            raise ConfigError(f"RTMDet input_size {input_size} must be a multiple of {max(config.strides)} "
                              f"in both sides: pick e.g. {max(config.strides) * 10}")
        self.config = dataclasses.replace(config, input_size=input_size)
        self.input_size = input_size
        self.backbone = CSPNeXt("P5", config.deepen_factor, config.widen_factor, out_indices=(2, 3, 4),
                                use_depthwise=config.use_depthwise, channel_attention=True, **CONV_KWARGS)
        width = int(256 * config.widen_factor)
        self.neck = CSPNeXtPAFPN(self.backbone.channels, width, max(round(3 * config.deepen_factor), 1),
                                 use_depthwise=config.use_depthwise, **CONV_KWARGS)
        self.bbox_head = RTMDetSepBNHead(config.num_classes, width, width, config.strides, config.stacked_convs,
                                         config.share_conv, config.use_depthwise, config.exp_on_reg, **CONV_KWARGS)
        self.assigner = DynamicSoftLabelAssigner(topk=config.assigner_topk)
        self.loss_cls = QualityFocalLoss(beta=2.0, loss_weight=1.0)
        self.loss_bbox = GIoULoss(loss_weight=2.0)
        self.register_buffer("mean", torch.tensor(MEAN_BGR).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD_BGR).view(1, 3, 1, 1), persistent=False)

    @property
    def num_classes(self) -> int:
        return self.config.num_classes

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        x = (images[:, [2, 1, 0]] - self.mean) / self.std  # RGB 0-255 -> normalised BGR
        cls_maps, distance_maps = self.bbox_head(self.neck(self.backbone(x)))
        priors = grid_points([m.shape[-2:] for m in cls_maps], self.config.strides, device=images.device, dtype=images.dtype)
        boxes = distance_to_box(priors[:, :2], _flatten_levels(distance_maps))  # (B, A, 4)
        return _flatten_levels(cls_maps), boxes

    def for_inference(self) -> "RTMDet":
        return self.eval()

    # ----------------------------------------------------------------------- priors

    def priors_for(self, num_priors: int, device=None) -> tuple[Tensor, list[int]]:
        """Grid points (A, 3) and points per level for outputs with A priors: the model's input size,
        or a square input whose A matches."""
        return points_for_outputs(num_priors, self.input_size, self.config.strides, 0.0, device)

    # ----------------------------------------------------------------------- training

    def loss(self, outputs, targets: dict) -> dict[str, Tensor]:
        """outputs from forward; targets: boxes (B, M, 4) xyxy input pixels, mask (B, M) bool,
        optional labels (B, M) long (default 0, "person"). -> {"loss_cls", "loss_bbox"}."""
        cls_logits, boxes = outputs
        b, a, c = cls_logits.shape
        gt_boxes = torch.as_tensor(targets["boxes"], dtype=boxes.dtype, device=boxes.device).reshape(b, -1, 4)
        gt_mask = torch.as_tensor(targets["mask"], dtype=torch.bool, device=boxes.device).reshape(b, -1)
        gt_labels = targets.get("labels")
        gt_labels = (torch.zeros_like(gt_mask, dtype=torch.long) if gt_labels is None
                     else torch.as_tensor(gt_labels, device=boxes.device).long().reshape(b, -1))
        if ((gt_labels < 0) | (gt_labels >= c))[gt_mask].any():
            raise InputError(f"RTMDet targets hold labels outside 0..{c - 1}: fix the labels or build the "
                             f"model with num_classes={int(gt_labels[gt_mask].max()) + 1}")
        if gt_boxes.shape[1] == 0:  # no box in the whole batch: one padding slot keeps shapes non-empty
            gt_boxes, gt_mask = gt_boxes.new_zeros(b, 1, 4), gt_mask.new_zeros(b, 1)
            gt_labels = gt_labels.new_zeros(b, 1)
        gt_labels = gt_labels.clamp(0, c - 1)  # padding slots may hold anything
        priors, _ = self.priors_for(a, boxes.device)
        assigned = self.assigner(cls_logits.detach(), boxes.detach(), priors, gt_boxes, gt_labels, gt_mask)

        fg, gt_index = assigned.foreground, assigned.gt_index.clamp(min=0)  # (B, A)
        quality = assigned.ious * fg  # (B, A) soft class target of each positive
        labels = gt_labels.gather(1, gt_index)  # (B, A)
        cls_targets = F.one_hot(labels, c).to(cls_logits.dtype) * quality[..., None]  # (B, A, C)
        target_boxes = gt_boxes.gather(1, gt_index[..., None].expand(-1, -1, 4))  # (B, A, 4)
        normaliser = quality.sum().clamp(min=1.0)
        return {"loss_cls": self.loss_cls(cls_logits.float(), cls_targets.float(), normaliser),
                "loss_bbox": self.loss_bbox(boxes[fg].float(), target_boxes[fg].float(), quality[fg], normaliser)}

    # ----------------------------------------------------------------------- inference

    def preprocess(self, images: list[np.ndarray]) -> tuple[Tensor, dict]:
        """RGB uint8 images (h, w, 3) -> (batch (B, 3, H, W) float 0-255, metas for `decode`)."""
        boxed, factors = zip(*(letterbox_topleft(im, self.input_size) for im in images))
        batch = torch.from_numpy(np.stack(boxed)).permute(0, 3, 1, 2).float()
        metas = {"scale_factor": np.stack(factors), "image_size": np.array([im.shape[:2] for im in images])}
        return batch, metas

    @torch.no_grad()
    def decode(self, outputs, metas: dict | None = None) -> list[dict]:
        """Dense outputs -> per image {"boxes": (N, 4) float32 xyxy image pixels, "scores": (N,),
        "labels": (N,) int64}, best first.

        metas: scale_factor (B,) or (B, 2) as (sx, sy), input pixels per image pixel (default 1);
        image_size (B, 2) as (h, w) of the original images (default the input size).
        Steps (mmdet's test_cfg): per level the `nms_pre` best (point, class) scores above
        `score_thr`; boxes back to image pixels, clipped to the image, empty ones dropped; NMS per
        image and class at `nms_iou_thr`; the `max_per_img` best kept.
        """
        cfg = self.config
        cls_logits, boxes = outputs
        b, a, c = cls_logits.shape
        device = boxes.device
        metas = metas or {}
        factor = torch.as_tensor(np.asarray(metas.get("scale_factor", np.ones(b)), dtype=np.float32), device=device)
        factor = factor.reshape(b, -1).expand(b, 2).repeat(1, 2)  # (B, 4) as (sx, sy, sx, sy)
        image_size = torch.as_tensor(np.asarray(metas.get("image_size", [self.input_size] * b), dtype=np.float32),
                                     device=device).reshape(b, 2)

        scores = cls_logits.float().sigmoid()  # (B, A, C)
        _, per_level = self.priors_for(a)
        candidates = []  # per level: score, point index, class (B, k)
        for scores_l, start in zip(scores.split(per_level, dim=1), np.cumsum([0] + per_level[:-1])):
            flat = scores_l.reshape(b, -1)  # (B, A_l * C)
            top, index = flat.topk(min(cfg.nms_pre, flat.shape[1]), dim=1)
            candidates.append((top, index // c + int(start), index % c))
        top, point, label = (torch.cat(parts, dim=1) for parts in zip(*candidates))  # (B, K)

        boxes = boxes.float() / factor[:, None]  # (B, A, 4) image pixels
        limits = image_size[:, [1, 0, 1, 0]]  # (B, 4) as (w, h, w, h)
        # One NMS per image: one over the whole batch would need a (B K)^2 IoU matrix.
        return [self._detections_of_image(top[i], point[i], label[i], boxes[i], limits[i]) for i in range(b)]

    def _detections_of_image(self, top: Tensor, point: Tensor, label: Tensor, boxes: Tensor,
                             limits: Tensor) -> dict:
        """Candidates (K,) of one image, its boxes (A, 4) in image pixels and (w, h, w, h) -> detections."""
        cfg = self.config
        confident = top > cfg.score_thr
        score, label = top[confident], label[confident]
        box = boxes[point[confident]].clamp(min=0).minimum(limits)  # (N, 4) clipped to the image
        valid = (box[:, 2] > box[:, 0]) & (box[:, 3] > box[:, 1])
        score, label, box = score[valid], label[valid], box[valid]
        keep = batched_nms(box, score, label, cfg.nms_iou_thr, max_det=cfg.max_per_img)  # best first
        return {"boxes": box[keep].cpu().numpy(), "scores": score[keep].cpu().numpy(),
                "labels": label[keep].cpu().numpy()}


# --------------------------------------------------------------------------- variants

_PAPER = "RTMDet: An Empirical Study of Designing Real-Time Object Detectors (Lyu et al., 2022)"
_URL = "https://download.openmmlab.com/mmpose/v1/projects"


def _build(config: RTMDetConfig, overrides: dict) -> RTMDet:
    return RTMDet(configure(config, overrides, "RTMDet"))


@register_model(ModelCard(
    name="rtmdet-person-nano", family="rtmdet", paradigm="detector", paper=_PAPER, input_size=(320, 320),
    params_m=0.994, gmacs=0.308, coco_ap=40.3,
    checkpoint_url=f"{_URL}/rtmpose/rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.pth",
    notes="person detector of the RTMPose pipelines; AP is COCO val person box AP"))
def rtmdet_person_nano(**overrides) -> RTMDet:
    return _build(RTMDetConfig(deepen_factor=0.33, widen_factor=0.25, input_size=(320, 320),
                               use_depthwise=True, share_conv=False), overrides)


@register_model(ModelCard(
    name="rtmdet-person-tiny", family="rtmdet", paradigm="detector", paper=_PAPER, input_size=(640, 640),
    params_m=4.873, gmacs=7.972,
    checkpoint_url=f"{_URL}/rtmposev1/rtmdet_tiny_8xb32-300e_humanart-7da5554e.pth",
    notes="trained on Human-Art (46.6 AP there); sizes measured with num_classes=1"))
def rtmdet_person_tiny(**overrides) -> RTMDet:
    return _build(RTMDetConfig(deepen_factor=0.167, widen_factor=0.375), overrides)


@register_model(ModelCard(
    name="rtmdet-person-m", family="rtmdet", paradigm="detector", paper=_PAPER, input_size=(640, 640),
    params_m=24.663, gmacs=38.939, coco_ap=62.5,
    checkpoint_url=f"{_URL}/rtmposev1/rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.pth",
    notes="MMPose's default human detector; AP is COCO val person box AP"))
def rtmdet_person_m(**overrides) -> RTMDet:
    return _build(RTMDetConfig(deepen_factor=0.67, widen_factor=0.75), overrides)
