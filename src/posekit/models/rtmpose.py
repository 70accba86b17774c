"""RTMPose: CSPNeXt backbone + RTMCC head (conv, MLP, GAU) + SimCC coordinate classification.

    model = create_model("rtmpose-m")                         # 256x192 crops, COCO-17
    simcc_x, simcc_y = model(crops)                            # (B,3,256,192) RGB 0-255 -> (B,17,384), (B,17,512)
    keypoints, scores = model.decode_crops((simcc_x, simcc_y))  # crop pixels
    create_model("rtmpose-t", widen=0.125, input_size=(64, 48))  # any RTMPoseConfig field can be overridden

State-dict keys equal the official mmpose checkpoints' (backbone.*, head.*), so official weights load as is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import get_skeleton
from posekit.models.codecs.simcc import SimCCCodec, flip_simcc
from posekit.models.losses import KLDiscretLoss
from posekit.models.registry import ModelCard, configure, register_model
from posekit.models.topdown import TopDownModel
from posekit.nn.cspnext import CSPNeXt
from posekit.nn.gau import RTMCCBlock, ScaleNorm

BACKBONE_STRIDE = 32


@dataclass(frozen=True)
class RTMPoseConfig:
    """One RTMPose variant. input_size is (H, W); sigma is the SimCC label sigma (x, y) in bins."""

    deepen: float
    widen: float
    input_size: tuple[int, int] = (256, 192)
    sigma: tuple[float, float] = (4.9, 5.66)
    skeleton: str = "coco"
    split_ratio: float = 2.0
    final_layer_kernel_size: int = 7
    hidden_dims: int = 256          # GAU token width
    s: int = 128                    # GAU query/key width
    expansion_factor: int = 2
    drop_path: float = 0.0


class RTMCCHead(nn.Module):
    """Stride-32 feature map -> one token per keypoint -> GAU -> x and y bin logits.

    feats (B, in_channels, ceil(H/32), ceil(W/32)) -> simcc_x (B, K, W * split), simcc_y (B, K, H * split)
    """

    def __init__(self, in_channels: int, num_keypoints: int, input_size: tuple[int, int],
                 split_ratio: float = 2.0, final_layer_kernel_size: int = 7, hidden_dims: int = 256,
                 s: int = 128, expansion_factor: int = 2, drop_path: float = 0.0):
        super().__init__()
        height, width = input_size
        num_tokens_in = math.ceil(height / BACKBONE_STRIDE) * math.ceil(width / BACKBONE_STRIDE)
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, final_layer_kernel_size,
                                     padding=final_layer_kernel_size // 2)
        self.mlp = nn.Sequential(ScaleNorm(num_tokens_in), nn.Linear(num_tokens_in, hidden_dims, bias=False))
        self.gau = RTMCCBlock(num_keypoints, hidden_dims, hidden_dims, expansion_factor, s,
                              drop_path=drop_path, act_fn="silu")
        self.cls_x = nn.Linear(hidden_dims, round(width * split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden_dims, round(height * split_ratio), bias=False)
        self.init_weights()

    def init_weights(self):
        """mmpose's head init: convs N(0, 0.001), linears N(0, 0.01), biases 0 (gamma, beta stay U(0, 1))."""
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(module.weight, std=0.001 if isinstance(module, nn.Conv2d) else 0.01)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)

    def forward(self, feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = self.final_layer(feats).flatten(2)  # (B, K, h * w)
        tokens = self.gau(self.mlp(tokens))          # (B, K, hidden_dims)
        return self.cls_x(tokens), self.cls_y(tokens)


class RTMPose(TopDownModel):
    """Top-down pose model on crops of `config.input_size`.

    forward: images (B, 3, H, W) RGB 0-255 -> (simcc_x (B, K, W * split), simcc_y (B, K, H * split)) logits.
    """

    def __init__(self, config: RTMPoseConfig):
        if len(config.input_size) != 2 or min(config.input_size) < 1:
            raise ConfigError(f"RTMPose input_size must be (H, W) with positive sides; got {config.input_size}")
        super().__init__(config.input_size, get_skeleton(config.skeleton))
        self.config = config
        self.backbone = CSPNeXt("P5", config.deepen, config.widen, out_indices=(4,), expand_ratio=0.5,
                                channel_attention=True)
        self.head = RTMCCHead(self.backbone.channels[-1], self.skeleton.num_keypoints, config.input_size,
                              config.split_ratio, config.final_layer_kernel_size, config.hidden_dims,
                              config.s, config.expansion_factor, config.drop_path)
        self.codec = SimCCCodec(config.input_size, config.sigma, config.split_ratio, normalize=False)
        self.criterion = KLDiscretLoss(beta=10.0, label_softmax=True, use_target_weight=True)

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if not torch.jit.is_tracing() and tuple(images.shape[1:]) != (3, *self.input_size):
            raise InputError(f"RTMPose expects crops (B, 3, {self.input_size[0]}, {self.input_size[1]}); got "
                             f"{tuple(images.shape)}: crop and resize to the model's input_size first")
        feats = self.backbone(self.normalise(images))[-1]  # (B, C, H/32, W/32)
        return self.head(feats)

    def loss(self, outputs: tuple[torch.Tensor, torch.Tensor], targets: dict) -> dict[str, torch.Tensor]:
        """targets: keypoints (B, K, 2) in crop pixels, keypoint_weights (B, K) -> {"loss_kpt"}."""
        missing = {"keypoints", "keypoint_weights"} - set(targets)
        if missing:
            raise InputError(f"RTMPose.loss targets lack {sorted(missing)}: pass keypoints (B,K,2) in crop "
                             "pixels and keypoint_weights (B,K)")
        target_x, target_y, weights = self.codec.encode(targets["keypoints"], targets["keypoint_weights"])
        return {"loss_kpt": self.criterion(outputs, (target_x, target_y), weights)}

    def decode_crops(self, outputs) -> tuple[torch.Tensor, torch.Tensor]:
        return self.codec.decode(*outputs)

    def flip_back(self, flipped_outputs):
        return flip_simcc(*flipped_outputs, self.skeleton.flip_indices)


# ------------------------------------------------------------------------------------------ variants

PAPER = "RTMPose: Real-Time Multi-Person Pose Estimation based on MMPose (Jiang et al., 2023)"
CHECKPOINTS = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/"


def _card(name: str, params_m: float, gmacs: float, coco_ap: float, checkpoint: str,
          input_size: tuple[int, int] = (256, 192)) -> ModelCard:
    return ModelCard(name=name, family="rtmpose", paradigm="top-down", paper=PAPER, input_size=input_size,
                     params_m=params_m, gmacs=gmacs, coco_ap=coco_ap, checkpoint_url=CHECKPOINTS + checkpoint,
                     notes="AP: AIC+COCO training, COCO val2017, flip test (mmpose model zoo)")


def _build(config: RTMPoseConfig, overrides: dict) -> RTMPose:
    return RTMPose(configure(config, overrides, "RTMPose"))


@register_model(_card("rtmpose-t", 3.34, 0.36, 68.5,
                      "rtmpose-tiny_simcc-aic-coco_pt-aic-coco_420e-256x192-cfc8f33d_20230126.pth"))
def rtmpose_t(**overrides) -> RTMPose:
    return _build(RTMPoseConfig(deepen=0.167, widen=0.375), overrides)


@register_model(_card("rtmpose-s", 5.47, 0.68, 72.2,
                      "rtmpose-s_simcc-aic-coco_pt-aic-coco_420e-256x192-fcb2599b_20230126.pth"))
def rtmpose_s(**overrides) -> RTMPose:
    return _build(RTMPoseConfig(deepen=0.33, widen=0.5), overrides)


@register_model(_card("rtmpose-m", 13.59, 1.93, 75.8,
                      "rtmpose-m_simcc-aic-coco_pt-aic-coco_420e-256x192-63eb25f7_20230126.pth"))
def rtmpose_m(**overrides) -> RTMPose:
    return _build(RTMPoseConfig(deepen=0.67, widen=0.75), overrides)


@register_model(_card("rtmpose-l", 27.66, 4.16, 76.5,
                      "rtmpose-l_simcc-aic-coco_pt-aic-coco_420e-256x192-f016ffe0_20230126.pth"))
def rtmpose_l(**overrides) -> RTMPose:
    return _build(RTMPoseConfig(deepen=1.0, widen=1.0), overrides)


@register_model(_card("rtmpose-m-384", 13.72, 4.33, 77.0,
                      "rtmpose-m_simcc-aic-coco_pt-aic-coco_420e-384x288-a62a0b32_20230228.pth", (384, 288)))
def rtmpose_m_384(**overrides) -> RTMPose:
    return _build(RTMPoseConfig(deepen=0.67, widen=0.75, input_size=(384, 288), sigma=(6.0, 6.93)), overrides)


@register_model(_card("rtmpose-l-384", 27.79, 9.35, 77.3,
                      "rtmpose-l_simcc-aic-coco_pt-aic-coco_420e-384x288-97d6cb0f_20230228.pth", (384, 288)))
def rtmpose_l_384(**overrides) -> RTMPose:
    return _build(RTMPoseConfig(deepen=1.0, widen=1.0, input_size=(384, 288), sigma=(6.0, 6.93)), overrides)
