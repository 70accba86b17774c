"""RTMO (Lu et al. 2024): one-stage pose estimation with a dynamic coordinate classifier (DCC).

    model = create_model("rtmo-s")
    batch, metas = model.preprocess([image_rgb])      # letterbox to 640x640, centred, pad 114
    poses = model.decode(model(batch), metas)         # list[Poses] in original-image pixels
    deployed = model.for_inference()                  # a fused copy: RepVGG and Linear+BN folded

CSPDarknet -> HybridEncoder (AIFI + CCFF, outputs at strides 16 and 32, projected to 2 x head width)
-> RTMOHead. Per grid point the head splits the neck map in half along channels: the first half
gives the person logit, the second (four 3x3 convs, grouped after the first) a box, K visibility
logits, a pose vector and K proxy keypoints (a training-only branch). forward(images RGB 0-255)
flips to BGR (the official weights saw raw cv2 BGR 0-255) and returns a dict of dense tensors over
the A grid points, stride 16 first, row-major in each level:

    cls_logits       (B, A)        person logit; score = sigmoid
    boxes            (B, A, 4)     xyxy, input pixels
    keypoint_logits  (B, A, K)     visibility logits; keypoint score = sigmoid
    pose_vectors     (B, A, P)     what the DCC turns into keypoints
    priors           (A, 3)        grid point (x, y, stride), at cell centres ((s - 1) / 2 offset)
    proxy_keypoints  (B, A, K, 2)  input pixels; the regression branch, present until for_inference()

The DCC is per instance and would cost A times more run densely, so - as MMPose does - it runs after
NMS, in `decode`, on the kept people only (and in `loss` on the positives): forward stays a fixed
graph of dense tensors that exports to ONNX, and `model.head.dcc` is a separate small module
(pose vectors, boxes, grid points -> keypoints) that exports on its own.

DCC: 192 x-bins and 256 y-bins span each person's box padded 1.25x; each bin position, relative
to the grid point, gets a sine encoding (temperature 300) and a linear layer; K keypoint
features (Linear + BatchNorm1d, then a GAU whose queries and keys get a learned per-keypoint
encoding) score the bins; softmax over bins and the expectation of the bin positions give x, y.

Training assigns grid points with SimOTA (MMPose's pose variant, objectness fixed at 1, cost with
-log OKS of the proxy keypoints, dynamic k from OKS; for t and s the centre region sits on the mean of
the labelled keypoints, as their COCO configs set) and applies MMPose's RTMOHead losses:
VariFocal classification towards OKS^0.5 (w1), square-IoU box loss (w5), OKS loss on the proxy
keypoints (w30), visibility BCE (w1) and the DCC's maximum-likelihood loss against a Laplace
target whose spread the model predicts (`sigma_fc`; w1 for t/s, 1e-2 for m/l).

Module names follow mmpose (`backbone.*`, `neck.*`, `head.head_module.*`, `head.dcc.*`,
`head.loss_oks.sigmas`), so an official checkpoint's state_dict loads as it is.
"""

from __future__ import annotations

import copy
import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from posekit.core.errors import ConfigError, InputError
from posekit.core.poses import Poses
from posekit.core.skeleton import get_skeleton
from posekit.models.onestage import OneStageModel, flatten_levels, grid_points, read_targets
from posekit.models.registry import ModelCard, configure, register_model
from posekit.models.yoloxpose import OKSLoss, SimOTAAssigner, pose_oks
from posekit.nn.conv import ConvModule
from posekit.nn.cspdarknet import CSPDarknet
from posekit.nn.gau import RTMCCBlock
from posekit.nn.hybrid_encoder import HybridEncoder, SinePositionalEncoding, fold_batchnorm, fuse_repvgg
from posekit.nn.ops import batched_nms, box_iou

# CSPDarknet and the head use Swish (= SiLU) and BN(momentum 0.03, eps 0.001); the HybridEncoder
# uses plain BN (its own defaults).
CONV_KWARGS = dict(act="silu", bn_eps=1e-3, bn_momentum=0.03)
LOSS_NAMES = ("loss_cls", "loss_bbox", "loss_oks", "loss_vis", "loss_mle")


@dataclass(frozen=True)
class RTMOConfig:
    """Architecture, test and training settings of one RTMO variant.

    Widths follow widen (head width int(256 w), neck projector 2 int(256 w), pose vectors
    int(512 w), pose branch 8 groups of int(36 w)); the neck's RepVGG blocks round(3 deepen).
    The loss weights are the first training stage's; MMPose's switch at epoch 280 sets
    proxy_target_cc=True, loss_mle 5.0, loss_oks 10.0 (and for m/l overlaps_power 1.0, loss_cls 2.0).
    """

    deepen: float
    widen: float
    input_size: tuple[int, int] = (640, 640)  # (height, width), multiples of 32
    skeleton: str = "coco"
    strides: tuple[int, ...] = (16, 32)
    stacked_convs: int = 2
    num_groups: int = 8
    channels_per_group: int = 36
    neck_hidden: int = 256                    # HybridEncoder width (all official sizes)
    neck_ffn: int = 1024
    neck_heads: int = 8
    dcc_channels: int = 128                   # keypoint feature width
    dcc_gau_s: int = 128
    spe_channels: int = 128
    spe_temperature: float = 300.0
    num_bins: tuple[int, int] = (192, 256)    # (x, y)
    bbox_padding: float = 1.25
    # test_cfg
    score_thr: float = 0.1
    nms_thr: float = 0.65
    # train_cfg
    center_radius: float = 2.5
    candidate_topk: int = 10
    iou_weight: float = 3.0
    oks_weight: float = 3.0
    cls_weight: float = 1.0
    overlaps_power: float = 0.5
    use_keypoints_for_center: bool = False  # the COCO/body7 rtmo-s/t assigners centre on the keypoints
    proxy_target_cc: bool = False
    loss_weights: tuple[tuple[str, float], ...] = (("loss_cls", 1.0), ("loss_bbox", 5.0), ("loss_oks", 30.0),
                                                   ("loss_vis", 1.0), ("loss_mle", 1.0))

    @property
    def head_channels(self) -> int:
        return int(256 * self.widen)

    @property
    def pose_vector_channels(self) -> int:
        return int(512 * self.widen)


# --------------------------------------------------------------------------- head

class RTMOHeadModule(nn.Module):
    """Per level: the neck map (B, 2C, h, w) is split in half along channels.
    Class half: `conv_cls` (stacked_convs 3x3) -> `out_cls` (1). Pose half: `conv_pose`
    (2 x stacked_convs 3x3, all but the first grouped) -> `out_bbox` (4), `out_kpt_reg` (2K,
    training only), `out_kpt_vis` (K), `out_pose` (P).

    feats: tuple of (B, 2 * in_channels, h_l, w_l) -> dict of per-level lists of (B, C, h_l, w_l):
    cls (1), bbox (4), kpt_vis (K), pose (P), and kpt_reg (2K) while `out_kpt_reg` exists.
    """

    def __init__(self, num_keypoints: int, in_channels: int, pose_channels: int, num_groups: int,
                 pose_vector_channels: int, num_levels: int, stacked_convs: int = 2, **conv_kwargs):
        super().__init__()
        self.conv_cls = nn.ModuleList(
            nn.Sequential(*(ConvModule(in_channels, in_channels, 3, **conv_kwargs) for _ in range(stacked_convs)))
            for _ in range(num_levels))
        self.conv_pose = nn.ModuleList(
            nn.Sequential(*(ConvModule(in_channels if i == 0 else pose_channels, pose_channels, 3,
                                       groups=1 if i == 0 else num_groups, **conv_kwargs)
                            for i in range(2 * stacked_convs)))
            for _ in range(num_levels))

        def outputs(cin, cout):
            return nn.ModuleList(nn.Conv2d(cin, cout, 1) for _ in range(num_levels))

        self.out_cls = outputs(in_channels, 1)
        self.out_bbox = outputs(pose_channels, 4)
        self.out_kpt_reg = outputs(pose_channels, 2 * num_keypoints)
        self.out_kpt_vis = outputs(pose_channels, num_keypoints)
        self.out_pose = outputs(pose_channels, pose_vector_channels)
        for conv in self.out_cls:  # class prior 0.01, as mmpose's init
            nn.init.constant_(conv.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, feats) -> dict[str, list[Tensor]]:
        maps = {name: [] for name in ("cls", "bbox", "kpt_vis", "pose", "kpt_reg")}
        for level, x in enumerate(feats):
            cls_feat, pose_feat = x.chunk(2, dim=1)
            cls_feat, pose_feat = self.conv_cls[level](cls_feat), self.conv_pose[level](pose_feat)
            maps["cls"].append(self.out_cls[level](cls_feat))
            maps["bbox"].append(self.out_bbox[level](pose_feat))
            maps["kpt_vis"].append(self.out_kpt_vis[level](pose_feat))
            maps["pose"].append(self.out_pose[level](pose_feat))
            if self.out_kpt_reg is not None:
                maps["kpt_reg"].append(self.out_kpt_reg[level](pose_feat))
        return maps


class ScalarScale(nn.Module):
    """x * s with one learnable scalar s (mmcv's `Scale`; key `scale`, shape ())."""

    def __init__(self, init_value: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init_value)))

    def forward(self, x: Tensor) -> Tensor:
        return x * self.scale


def box_center_scale(boxes: Tensor, padding: float = 1.25) -> tuple[Tensor, Tensor]:
    """xyxy boxes (..., 4) -> centre (..., 2), scale (..., 2) = (w, h) * padding (mmpose's bbox_xyxy2cs)."""
    return (boxes[..., :2] + boxes[..., 2:]) / 2, (boxes[..., 2:] - boxes[..., :2]) * padding


class DCC(nn.Module):
    """Dynamic coordinate classifier: bins laid over each person's padded box, scored by keypoint features.

    forward(pose_vectors (N, P), boxes (N, 4) xyxy input px, grids (N, 2) the predicting grid points)
      -> keypoints (N, K, 2) input px,
         probabilities (prob_x (N, K, Bx), prob_y (N, K, By)), softmax over bins,
         bins (x_bins (N, Bx), y_bins (N, By)) bin positions in input px.
    `sigmas(pose_vectors)` (N, K) and `target_heatmaps` are the training-only Laplace target.
    """

    def __init__(self, in_channels: int, num_keypoints: int, feat_channels: int = 128,
                 num_bins: tuple[int, int] = (192, 256), spe_channels: int = 128, spe_temperature: float = 300.0,
                 gau_s: int = 128, expansion_factor: int = 2, bbox_padding: float = 1.25):
        super().__init__()
        self.num_keypoints, self.feat_channels, self.bbox_padding = num_keypoints, feat_channels, bbox_padding
        self.spe = SinePositionalEncoding(spe_channels, spe_temperature)
        self.register_buffer("x_bins", torch.linspace(-0.5, 0.5, num_bins[0]))
        self.register_buffer("y_bins", torch.linspace(-0.5, 0.5, num_bins[1]))
        self.gau = RTMCCBlock(num_keypoints, feat_channels, feat_channels, expansion_factor, gau_s, act_fn="silu")
        self.pos_enc = nn.Parameter(torch.randn(num_keypoints, gau_s))
        self.pose_to_kpts = nn.Sequential(nn.Linear(in_channels, feat_channels * num_keypoints),
                                          nn.BatchNorm1d(feat_channels * num_keypoints))
        self.x_fc = nn.Linear(spe_channels, feat_channels)
        self.y_fc = nn.Linear(spe_channels, feat_channels)
        self.sigma_fc = nn.Sequential(nn.Linear(in_channels, num_keypoints), nn.Sigmoid(), ScalarScale(0.1))

    def bins(self, boxes: Tensor) -> tuple[Tensor, Tensor]:
        """Bin positions in input px over the padded boxes: (N, 4) -> (N, Bx), (N, By)."""
        center, scale = box_center_scale(boxes, self.bbox_padding)
        return self.x_bins * scale[:, :1] + center[:, :1], self.y_bins * scale[:, 1:] + center[:, 1:]

    def keypoint_features(self, pose_vectors: Tensor) -> Tensor:
        """(N, P) -> (N, K, C): Linear + BatchNorm1d, split into K tokens, GAU with per-keypoint encoding."""
        fc, norm = self.pose_to_kpts
        x = fc(pose_vectors)  # (N, K * C)
        if isinstance(norm, nn.BatchNorm1d) and norm.training and x.shape[0] < 2:
            # batch statistics need two samples: a lone instance is normalised with the running ones
            x = F.batch_norm(x, norm.running_mean, norm.running_var, norm.weight, norm.bias, False, 0.0, norm.eps)
        else:
            x = norm(x)
        return self.gau(x.reshape(-1, self.num_keypoints, self.feat_channels), self.pos_enc)

    def forward(self, pose_vectors: Tensor, boxes: Tensor, grids: Tensor):
        x_bins, y_bins = self.bins(boxes)  # (N, Bx), (N, By)
        x_enc = self.x_fc(self.spe(x_bins - grids[:, :1]))  # (N, Bx, C): positions relative to the grid point
        y_enc = self.y_fc(self.spe(y_bins - grids[:, 1:2]))  # (N, By, C)
        feats = self.keypoint_features(pose_vectors)  # (N, K, C)
        prob_x = (feats @ x_enc.transpose(1, 2)).clamp(-5e4, 5e4).softmax(-1)  # (N, K, Bx)
        prob_y = (feats @ y_enc.transpose(1, 2)).clamp(-5e4, 5e4).softmax(-1)  # (N, K, By)
        keypoints = torch.stack([(prob_x * x_bins[:, None]).sum(-1), (prob_y * y_bins[:, None]).sum(-1)], -1)
        return keypoints, (prob_x, prob_y), (x_bins, y_bins)

    def sigmas(self, pose_vectors: Tensor) -> Tensor:
        """Predicted spread of each keypoint's Laplace target, in units of sqrt(area): (N, P) -> (N, K)."""
        return self.sigma_fc(pose_vectors)

    @staticmethod
    def target_heatmaps(keypoints: Tensor, bins: tuple[Tensor, Tensor], sigmas: Tensor,
                        areas: Tensor) -> tuple[Tensor, Tensor]:
        """Laplace likelihood of each bin: exp(-|bin - kpt| / sqrt(area) / sigma / 2) / sigma.

        keypoints (N, K, 2), bins ((N, Bx), (N, By)), sigmas (N, K), areas (N,) -> (N, K, Bx), (N, K, By).
        sqrt(area) is at least 1 and sigma at least 1e-3 (mmpose's clips).
        """
        norm = areas.sqrt().clamp(min=1)[:, None, None]  # (N, 1, 1)
        sigmas = sigmas.clamp(min=1e-3)[..., None]  # (N, K, 1)
        return tuple(torch.exp(-(bins_c[:, None] - keypoints[..., c:c + 1]).abs() / norm / sigmas / 2) / sigmas
                     for c, bins_c in enumerate(bins))

    @torch.no_grad()
    def fuse(self) -> None:
        """Fold the BatchNorm1d of `pose_to_kpts` into its Linear (eval statistics; for deployment)."""
        fc, norm = self.pose_to_kpts
        if isinstance(norm, nn.BatchNorm1d):
            weight, bias = fold_batchnorm(fc.weight, fc.bias, norm)
            fc.weight.copy_(weight)
            fc.bias.copy_(bias)
            self.pose_to_kpts[1] = nn.Identity()


class RTMOOKSLoss(OKSLoss):
    """1 - sum_k (w_k / K) exp(-d_k^2 / (2 area (2 sigma_k)^2)), MMPose's OKSLoss as RTMO configures
    it (norm_target_weight=False: weights divided by K, not by their sum, so a person with few
    labelled keypoints keeps a loss). pred, target (N, K, 2); weights (N, K); areas (N,) -> (N,).
    """

    def forward(self, pred: Tensor, target: Tensor, weights: Tensor, areas: Tensor) -> Tensor:
        dist = (pred - target).norm(dim=-1) / areas.sqrt().clamp(min=self.eps)[:, None] / (2 * self.sigmas)
        return 1 - (torch.exp(-dist.pow(2) / 2) * weights / weights.shape[-1]).sum(-1)


def varifocal_loss(logits: Tensor, targets: Tensor, alpha: float = 0.75, gamma: float = 2.0) -> Tensor:
    """VariFocal loss (Zhang et al. 2021) as MMPose computes it, element-wise.

    BCE(logit clipped to [-10, 10], target) * weight, weight = target at positives (target > 1e-4)
    and alpha * sigmoid(logit)^gamma at negatives. logits, targets (...) -> (...).
    """
    negative = (targets <= 1e-4).to(logits.dtype)
    weight = alpha * logits.sigmoid().pow(gamma) * negative + targets
    return F.binary_cross_entropy_with_logits(logits.clamp(-10, 10), targets, reduction="none") * weight


def mle_cc_loss(probabilities: tuple[Tensor, Tensor], targets: tuple[Tensor, Tensor], weights: Tensor) -> Tensor:
    """MMPose's MLECCLoss (mode 'log'): mean over instances and keypoints of
    -log(sum_i p_x(i) t_x(i) * sum_j p_y(j) t_y(j) + 1e-4) * weight.

    probabilities, targets: pairs ((N, K, Bx), (N, K, By)); weights (N, K) -> scalar.
    """
    likelihood = (probabilities[0] * targets[0]).sum(-1) * (probabilities[1] * targets[1]).sum(-1)  # (N, K)
    loss = torch.nan_to_num(-torch.log(likelihood + 1e-4), nan=0.0)
    return (loss * weights).mean()


class RTMOHead(nn.Module):
    """The head as MMPose names it: `head_module` (the convs), `dcc`, and `loss_oks` (holds the sigmas)."""

    def __init__(self, num_keypoints: int, config: RTMOConfig, sigmas):
        super().__init__()
        cfg = config
        self.head_module = RTMOHeadModule(num_keypoints, cfg.head_channels,
                                          cfg.num_groups * int(cfg.channels_per_group * cfg.widen), cfg.num_groups,
                                          cfg.pose_vector_channels, len(cfg.strides), cfg.stacked_convs,
                                          **CONV_KWARGS)
        self.loss_oks = RTMOOKSLoss(sigmas)
        self.dcc = DCC(cfg.pose_vector_channels, num_keypoints, cfg.dcc_channels, tuple(cfg.num_bins),
                       cfg.spe_channels, cfg.spe_temperature, cfg.dcc_gau_s, bbox_padding=cfg.bbox_padding)

    def forward(self, feats):
        return self.head_module(feats)


# --------------------------------------------------------------------------- model

class RTMO(OneStageModel):
    """The one-stage pose model. images (B, 3, H, W) RGB 0-255 -> dict of dense tensors (module doc)."""

    def __init__(self, config: RTMOConfig):
        skeleton = get_skeleton(config.skeleton)
        super().__init__(config.input_size, skeleton)
        self.require_input_multiple(32, "RTMO", "the stride-32 level and the neck's x2 upsampling need it")
        if {name for name, _ in config.loss_weights} != set(LOSS_NAMES):
            raise ConfigError(f"RTMO loss_weights must give one weight for each of {', '.join(LOSS_NAMES)}; "
                              f"got {sorted(name for name, _ in config.loss_weights)}")
        if tuple(config.strides) != (16, 32):
            raise ConfigError(f"RTMO predicts at strides (16, 32) (the neck's levels 1 and 2); got {config.strides}")
        self.config = dataclasses.replace(config, input_size=self.input_size)
        self.backbone = CSPDarknet(config.deepen, config.widen, out_indices=(2, 3, 4), **CONV_KWARGS)
        self.neck = HybridEncoder(self.backbone.channels, config.neck_hidden, config.widen, config.deepen,
                                  config.neck_heads, config.neck_ffn, output_indices=(1, 2),
                                  projector_channels=2 * config.head_channels)
        self.head = RTMOHead(skeleton.num_keypoints, self.config, skeleton.sigmas)
        self.assigner = SimOTAAssigner(self.head.loss_oks.sigmas, config.center_radius, config.candidate_topk,
                                       config.iou_weight, config.oks_weight, config.cls_weight,
                                       config.use_keypoints_for_center)
        self.loss_weights = dict(config.loss_weights)

    def forward(self, images: Tensor) -> dict[str, Tensor]:
        if not torch.jit.is_tracing() and (images.ndim != 4 or images.shape[1] != 3
                                           or any(s % 32 for s in images.shape[-2:])):
            raise InputError(f"RTMO expects images (B, 3, H, W) with H and W multiples of 32; got "
                             f"{tuple(images.shape)}: letterbox them with model.preprocess")
        maps = self.head(self.neck(self.backbone(images[:, [2, 1, 0]])))  # RGB -> BGR, 0-255
        priors = grid_points([m.shape[-2:] for m in maps["cls"]], self.config.strides, 0.0, images.device,
                             images.dtype)
        priors = torch.cat([priors[:, :2] + (priors[:, 2:] - 1) / 2, priors[:, 2:]], -1)  # cell centres
        xy, stride = priors[:, :2], priors[:, 2:]  # (A, 2), (A, 1)
        box = flatten_levels(maps["bbox"])  # (B, A, 4): centre offset and log size, in strides
        centre, size = box[..., :2] * stride + xy, box[..., 2:].exp() * stride
        outputs = {"cls_logits": flatten_levels(maps["cls"])[..., 0],
                   "boxes": torch.cat([centre - size / 2, centre + size / 2], -1),
                   "keypoint_logits": flatten_levels(maps["kpt_vis"]),
                   "pose_vectors": flatten_levels(maps["pose"]),
                   "priors": priors}
        if maps["kpt_reg"]:
            offsets = flatten_levels(maps["kpt_reg"])  # (B, A, 2K)
            outputs["proxy_keypoints"] = offsets.reshape(*offsets.shape[:2], -1, 2) * stride[:, None] + xy[:, None]
        return outputs

    def for_inference(self) -> "RTMO":
        """A deployable copy in eval mode: RepVGG blocks fused into single 3x3 convs, the DCC's
        Linear + BatchNorm1d folded, and the training-only parts (proxy-keypoint convs `out_kpt_reg`,
        `sigma_fc`) dropped. `self` is left untouched, so it can go on training."""
        model = copy.deepcopy(self).eval()
        fuse_repvgg(model.neck)
        model.head.dcc.fuse()
        model.head.head_module.out_kpt_reg = None
        model.head.dcc.sigma_fc = None
        return model

    # ----------------------------------------------------------------------- training

    def loss(self, outputs: dict[str, Tensor], targets: dict) -> dict[str, Tensor]:
        """outputs from forward (with proxy_keypoints); targets: the padded whole-image dict
        (posekit.models.onestage.read_targets) -> weighted {"loss_cls", "loss_bbox", "loss_oks",
        "loss_vis", "loss_mle"}.

        Class and box terms are sums divided by the number of positives (at least 1); the OKS,
        visibility and MLE terms are means over positives (and keypoints), as MMPose reduces them.
        The class loss covers every grid point: positives aim at the OKS of their proxy pose ^
        overlaps_power, the rest at 0.
        """
        if "proxy_keypoints" not in outputs:
            raise InputError("RTMO.loss needs the proxy_keypoints output, which for_inference() drops: "
                             "compute the loss with the training model, not its deployed copy")
        cfg, dcc = self.config, self.head.dcc
        cls_logits, boxes = outputs["cls_logits"].float(), outputs["boxes"].float()
        vis_logits, pose_vectors = outputs["keypoint_logits"].float(), outputs["pose_vectors"].float()
        proxy, priors = outputs["proxy_keypoints"].float(), outputs["priors"].float()
        gt = read_targets(targets, self.num_keypoints, boxes.device)
        gt_visible = (gt["visible"] > 0).float()  # (B, M, K)

        scores = cls_logits.detach().clamp(-1e4, 1e4).sigmoid().sqrt()  # sqrt(cls * obj) with obj fixed at 1
        assigned = self.assigner(priors, scores, boxes.detach(), proxy.detach(), gt["boxes"], gt["keypoints"],
                                 gt_visible, gt["areas"], gt["mask"])
        image, point = assigned.foreground.nonzero(as_tuple=True)  # (N,) positives
        person = assigned.gt_index[image, point]  # (N,)
        normaliser = max(float(len(image)), 1.0)
        # without positives the terms are zeros that still reach every dense output (DDP wants all grads)
        zero = sum(t.sum() for t in (boxes, vis_logits, pose_vectors, proxy)) * 0.0
        losses = dict.fromkeys(LOSS_NAMES, zero)
        cls_targets = torch.zeros_like(cls_logits)  # (B, A)

        if len(image):
            pos_boxes, pos_proxy = boxes[image, point], proxy[image, point]  # (N, 4), (N, K, 2)
            target_kpts, target_vis = gt["keypoints"][image, person], gt_visible[image, person]  # (N, K, 2), (N, K)
            areas = gt["areas"][image, person]  # (N,)
            losses["loss_bbox"] = (1 - box_iou(pos_boxes, gt["boxes"][image, person], aligned=True,
                                               eps=1e-16).pow(2)).sum() / normaliser
            losses["loss_vis"] = F.binary_cross_entropy_with_logits(vis_logits[image, point], target_vis)
            overlap = assigned.overlap[image, point]  # (N,) OKS of the proxy poses
            if self.loss_weights["loss_mle"] > 0 or cfg.proxy_target_cc:
                pos_vectors = pose_vectors[image, point]
                cc_kpts, probs, bins = dcc(pos_vectors, pos_boxes, priors[point, :2])
                heatmaps = dcc.target_heatmaps(target_kpts, bins, dcc.sigmas(pos_vectors), areas)
                losses["loss_mle"] = mle_cc_loss(probs, heatmaps, target_vis)
            if cfg.proxy_target_cc:
                # the regression branch learns from the DCC where the DCC is closer to the truth
                with torch.no_grad():
                    closer = ((pos_proxy - target_kpts).norm(dim=-1) > (cc_kpts - target_kpts).norm(dim=-1)).float()
                    overlap = pose_oks(cc_kpts, target_kpts, target_vis, areas, self.head.loss_oks.sigmas)
                losses["loss_oks"] = self.head.loss_oks(pos_proxy, cc_kpts.detach(), target_vis * closer, areas).mean()
            else:
                losses["loss_oks"] = self.head.loss_oks(pos_proxy, target_kpts, target_vis, areas).mean()
            cls_targets[image, point] = overlap.pow(cfg.overlaps_power).to(cls_targets)

        losses["loss_cls"] = varifocal_loss(cls_logits, cls_targets).sum() / normaliser
        return {name: value * self.loss_weights[name] for name, value in losses.items()}

    # ----------------------------------------------------------------------- inference

    @torch.no_grad()
    def keypoints_from_pose_vectors(self, pose_vectors: Tensor, boxes: Tensor, grids: Tensor) -> Tensor:
        """The DCC at inference, whatever the model's mode: pose_vectors (N, P), boxes (N, 4) xyxy
        input px, grids (N, 2) the grid points that predicted them -> keypoints (N, K, 2) input px."""
        if len(pose_vectors) == 0:
            return pose_vectors.new_zeros((0, self.num_keypoints, 2))
        dcc = self.head.dcc
        was_training = dcc.training
        dcc.eval()  # BatchNorm1d on running statistics, which stay as they are
        try:
            return dcc(pose_vectors, boxes, grids)[0]
        finally:
            dcc.train(was_training)

    @torch.no_grad()
    def decode(self, outputs: dict[str, Tensor], metas: dict | None = None) -> list[Poses]:
        """Dense outputs -> one Poses per image in original-image pixels, best first.

        metas from `preprocess`: matrix (B, 2, 3) image -> input, image_size (B, 2) as (h, w);
        without metas, results stay in input pixels. Steps (MMPose's RTMO test_cfg): score =
        sigmoid(cls) above `score_thr` (0.1); greedy box NMS at `nms_thr` (0.65) per image; the DCC
        on the kept people (one batched call over all images); boxes clamped to the input.
        Keypoint scores are sigmoid(visibility logits); the pose score is the box score.
        """
        cfg = self.config
        scores = outputs["cls_logits"].float().sigmoid()  # (B, A)
        b = scores.shape[0]
        matrices, sizes = self.image_metas(metas, b)
        image, point = (scores > cfg.score_thr).nonzero(as_tuple=True)  # (N,)
        box, score = outputs["boxes"][image, point].float(), scores[image, point]
        keep = batched_nms(box, score, image, cfg.nms_thr)  # by decreasing score
        keep = keep[torch.sort(image[keep], stable=True).indices]  # grouped by image, best first
        image, point, box, score = image[keep], point[keep], box[keep], score[keep]

        keypoints = self.keypoints_from_pose_vectors(outputs["pose_vectors"][image, point].float(), box,
                                                     outputs["priors"][point, :2].float())  # (N, K, 2)
        keypoint_scores = outputs["keypoint_logits"][image, point].float().sigmoid()  # (N, K)
        h, w = self.input_size
        box = torch.stack([box[:, 0].clamp(0, w), box[:, 1].clamp(0, h), box[:, 2].clamp(0, w),
                           box[:, 3].clamp(0, h)], -1)
        counts = torch.bincount(image, minlength=b).tolist()
        return [self.to_image_poses(kp, ks, bx, sc, matrices[i], sizes[i])
                for i, (kp, ks, bx, sc) in enumerate(zip(keypoints.split(counts), keypoint_scores.split(counts),
                                                         box.split(counts), score.split(counts)))]


# --------------------------------------------------------------------------- variants

_PAPER = "RTMO: Towards High-Performance One-Stage Real-Time Multi-Person Pose Estimation (Lu et al., CVPR 2024)"
_URL = "https://download.openmmlab.com/mmpose/v1/projects/rtmo"
_NOTES = ("params: the full (unfused) model as the official configs build it; for_inference() fuses "
          "RepVGG and Linear+BN and drops training-only layers (fewer). GMACs: dense forward at 640, "
          "unfused, without the per-person DCC.")


def _build(config: RTMOConfig, overrides: dict) -> RTMO:
    overrides = dict(overrides)
    if "loss_weights" in overrides:  # a mapping (or pairs) overriding some of the variant's weights
        weights = dict(overrides["loss_weights"])
        if not set(weights) <= set(LOSS_NAMES):
            raise ConfigError(f"unknown RTMO loss name(s) {sorted(set(weights) - set(LOSS_NAMES))}: "
                              f"use {', '.join(LOSS_NAMES)}")
        overrides["loss_weights"] = tuple((dict(config.loss_weights) | weights).items())
    return RTMO(configure(config, overrides, "RTMO"))


@register_model(ModelCard(
    name="rtmo-t", family="rtmo", paradigm="one-stage", paper=_PAPER, input_size=(416, 416),
    params_m=6.830, gmacs=3.4, coco_ap=57.4,
    checkpoint_url=f"{_URL}/rtmo-t_8xb32-600e_body7-416x416-f48f75cb_20231219.pth",
    notes="trained on body7 (AP is COCO val); params and GMACs derived from the config, not published. " + _NOTES))
def rtmo_t(**overrides) -> RTMO:
    return _build(RTMOConfig(deepen=0.33, widen=0.375, input_size=(416, 416), use_keypoints_for_center=True),
                  overrides)


@register_model(ModelCard(
    name="rtmo-s", family="rtmo", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
    params_m=9.869, gmacs=12.063, coco_ap=67.7,
    checkpoint_url=f"{_URL}/rtmo-s_8xb32-600e_coco-640x640-8db55a59_20231211.pth", notes=_NOTES))
def rtmo_s(**overrides) -> RTMO:
    return _build(RTMOConfig(deepen=0.33, widen=0.5, use_keypoints_for_center=True), overrides)


@register_model(ModelCard(
    name="rtmo-m", family="rtmo", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
    params_m=22.526, gmacs=31.541, coco_ap=70.9,
    checkpoint_url=f"{_URL}/rtmo-m_16xb16-600e_coco-640x640-6f4e0306_20231211.pth", notes=_NOTES))
def rtmo_m(**overrides) -> RTMO:
    weights = dict(RTMOConfig.loss_weights) | {"loss_mle": 1e-2}
    return _build(RTMOConfig(deepen=0.67, widen=0.75, loss_weights=tuple(weights.items())), overrides)


@register_model(ModelCard(
    name="rtmo-l", family="rtmo", paradigm="one-stage", paper=_PAPER, input_size=(640, 640),
    params_m=44.693, gmacs=67.367, coco_ap=72.4,
    checkpoint_url=f"{_URL}/rtmo-l_16xb16-600e_coco-640x640-516a421f_20231211.pth", notes=_NOTES))
def rtmo_l(**overrides) -> RTMO:
    weights = dict(RTMOConfig.loss_weights) | {"loss_mle": 1e-2}
    return _build(RTMOConfig(deepen=1.0, widen=1.0, loss_weights=tuple(weights.items())), overrides)
