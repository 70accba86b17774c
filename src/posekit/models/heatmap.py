"""Top-down heatmap models: SimpleBaseline (Xiao et al., ECCV 2018), HRNet (Sun et al., CVPR 2019) and
the CSPNeXt-UDP models that pretrain RTMPose's backbones.

    model = create_model("hrnet-w32")               # 256x192 crops -> (B, 17, 64, 48) heatmaps
    heatmaps = model(crops)                          # crops: (B, 3, 256, 192) RGB 0-255
    losses = model.loss(heatmaps, {"keypoints": kpts, "keypoint_weights": w})
    keypoints, scores = model.decode_crops(heatmaps) # crop-input pixels

A backbone (ResNet, HRNet or CSPNeXt), a `HeatmapHead` (SimpleBaseline: three 4x4 stride-2 deconvolutions of
256 channels, then a 1x1 conv; HRNet: the 1x1 conv alone), a codec (MSRA by default, DARK or UDP on
request) and MMPose's `KeypointMSELoss` with target weights. Module names match MMPose's
`TopdownPoseEstimator` (`backbone.*`, `head.deconv_layers.*`, `head.final_layer.*`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from posekit.core.errors import ConfigError, InputError
from posekit.core.skeleton import get_skeleton
from posekit.models.codecs.heatmap import MSRAHeatmap, UDPHeatmap, flip_heatmaps
from posekit.models.registry import ModelCard, configure, register_model
from posekit.models.rtmpose import CHECKPOINTS as RTMPOSE_CHECKPOINTS
from posekit.models.rtmpose import PAPER as RTMPOSE_PAPER
from posekit.models.topdown import TopDownModel
from posekit.nn.cspnext import CSPNeXt
from posekit.nn.hrnet import HRNet
from posekit.nn.resnet import ResNet


@dataclass(frozen=True)
class HeatmapConfig:
    """Architecture and codec of one heatmap model; every field can be overridden in create_model."""

    backbone: str = "resnet"                       # "resnet" | "hrnet" | "cspnext"
    depth: int = 50                                # ResNet depth: 18, 34, 50, 101, 152
    base_channels: int = 64                        # ResNet layer1 planes
    width: int = 32                                # HRNet width (channels of the stride-4 branch)
    stage_modules: tuple[int, int, int] = (1, 4, 3)  # HRNet modules in stages 2-4
    num_blocks: int = 4                            # HRNet blocks per branch
    stem_channels: int = 64                        # HRNet stem width
    deepen: float = 1.0                            # CSPNeXt depth factor
    widen: float = 1.0                             # CSPNeXt width factor
    deconv_channels: tuple[int, ...] = (256, 256, 256)  # head deconvolutions, () for none
    input_size: tuple[int, int] = (256, 192)       # (H, W) of the crops, multiples of 32
    codec: str = "msra"                            # "msra" | "udp"
    sigma: float = 2.0                             # Gaussian sigma in heatmap pixels
    dark: bool = False                             # MSRA only: DARK encoding and decoding
    blur_kernel_size: int = 11                     # DARK modulation kernel (11 for sigma 2)
    skeleton: str = "coco"
    loss_weight: float = 1.0


class HeatmapHead(nn.Module):
    """Deconvolutions (ConvTranspose 4x4 stride 2, BN, ReLU each) and a 1x1 conv to K heatmaps.

    forward: features (B, C, h, w) -> heatmaps (B, K, h * 2**n, w * 2**n), n = len(deconv_channels).
    """

    def __init__(self, in_channels: int, num_keypoints: int, deconv_channels: tuple[int, ...] = (256, 256, 256)):
        super().__init__()
        layers = []
        for channels in deconv_channels:
            layers += [nn.ConvTranspose2d(in_channels, channels, 4, stride=2, padding=1, output_padding=0,
                                          bias=False),
                       nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
            in_channels = channels
        self.deconv_layers = nn.Sequential(*layers) if layers else nn.Identity()
        self.final_layer = nn.Conv2d(in_channels, num_keypoints, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.deconv_layers(features))


def keypoint_mse_loss(heatmaps: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """MMPose's KeypointMSELoss(use_target_weight=True): mean over (B, K, h, w) of
    weight_k x (predicted - target)^2. heatmaps, targets (B, K, h, w); weights (B, K) -> scalar."""
    return ((heatmaps - targets) ** 2 * weights[..., None, None]).mean()


class HeatmapPoseModel(TopDownModel):
    """Backbone + HeatmapHead + heatmap codec, honouring the top-down model contract.

    forward: crops (B, 3, H, W) RGB 0-255 -> heatmaps (B, K, H/4, W/4) (for the standard heads).
    """

    def __init__(self, config: HeatmapConfig):
        _check_config(config)
        super().__init__(config.input_size, get_skeleton(config.skeleton))
        self.config = config
        self.backbone, backbone_stride = _build_backbone(config)
        self.head = HeatmapHead(self.backbone.out_channels[-1], self.skeleton.num_keypoints,
                                tuple(config.deconv_channels))
        stride = backbone_stride / 2 ** len(config.deconv_channels)
        if stride < 1 or any(s % stride for s in config.input_size):
            raise ConfigError(f"{len(config.deconv_channels)} deconvolutions after a stride-{backbone_stride} "
                              f"backbone do not give an integer heatmap size for input {config.input_size}")
        self.heatmap_size = tuple(int(s // stride) for s in config.input_size)
        if config.codec == "udp":
            self.codec = UDPHeatmap(config.input_size, self.heatmap_size, config.sigma, config.blur_kernel_size)
        else:
            self.codec = MSRAHeatmap(config.input_size, self.heatmap_size, config.sigma, config.dark,
                                     config.blur_kernel_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images (B, 3, H, W) RGB 0-255 -> heatmaps (B, K, h, w)."""
        return self.head(self.backbone(self.normalise(images))[-1])

    def loss(self, outputs: torch.Tensor, targets: dict) -> dict[str, torch.Tensor]:
        """outputs: heatmaps (B, K, h, w); targets: keypoints (B, K, 2) in crop-input pixels,
        keypoint_weights (B, K). Returns {"loss_kpt": weighted MSE}."""
        missing = {"keypoints", "keypoint_weights"} - set(targets)
        if missing:
            raise InputError(f"heatmap loss needs targets {sorted(missing)}: pass keypoints (B,K,2) in crop "
                             f"pixels and keypoint_weights (B,K)")
        if tuple(outputs.shape[-2:]) != self.heatmap_size:
            raise InputError(f"heatmaps are {tuple(outputs.shape[-2:])} but the codec expects {self.heatmap_size}: "
                             f"feed crops of size {self.input_size}")
        with torch.no_grad():
            target_maps, weights = self.codec.encode(targets["keypoints"].to(outputs.device),
                                                     targets["keypoint_weights"].to(outputs.device))
        loss = keypoint_mse_loss(outputs.float(), target_maps, weights)
        return {"loss_kpt": self.config.loss_weight * loss}

    def decode_crops(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """heatmaps (B, K, h, w) -> keypoints (B, K, 2) in crop-input pixels, scores (B, K)."""
        return self.codec.decode(outputs)

    def flip_back(self, flipped_outputs: torch.Tensor) -> torch.Tensor:
        """Heatmaps of horizontally flipped crops -> unflipped layout (1-px shift for MSRA, none for UDP)."""
        return flip_heatmaps(flipped_outputs, self.skeleton.flip_indices, shift=self.codec.flip_shift)


def _build_backbone(config: HeatmapConfig) -> tuple[nn.Module, int]:
    """The backbone and the stride of its last output."""
    if config.backbone == "resnet":
        return ResNet(config.depth, config.base_channels), 32
    if config.backbone == "hrnet":
        return HRNet(config.width, tuple(config.stage_modules), config.num_blocks, config.stem_channels), 4
    # RTMPose's backbone exactly, so that these weights initialise it (prefix `backbone.`)
    return CSPNeXt("P5", config.deepen, config.widen, out_indices=(4,), expand_ratio=0.5,
                   channel_attention=True), 32


def _check_config(config: HeatmapConfig) -> None:
    if config.backbone not in ("resnet", "hrnet", "cspnext"):
        raise ConfigError(f"unknown heatmap backbone '{config.backbone}': use 'resnet', 'hrnet' or 'cspnext'")
    if config.codec not in ("msra", "udp"):
        raise ConfigError(f"unknown heatmap codec '{config.codec}': use 'msra' or 'udp' (DARK is msra with dark=True)")
    if config.dark and config.codec == "udp":
        raise ConfigError("dark=True applies to the msra codec; the udp codec always decodes with UDP's DARK")
    if len(config.input_size) != 2 or any(s <= 0 or s % 32 for s in config.input_size):
        raise ConfigError(f"heatmap models need an input size (H, W) of positive multiples of 32, "
                          f"got {config.input_size}")


def build_heatmap_model(base: HeatmapConfig, overrides: dict) -> HeatmapPoseModel:
    """A model from a variant's config with `overrides` applied to its fields."""
    return HeatmapPoseModel(configure(base, overrides, "heatmap model"))


# ----------------------------------------------------------------------------------------------
# variants: configs as data, one registered builder each

VARIANTS: dict[str, HeatmapConfig] = {
    "simplebaseline-r50": HeatmapConfig(backbone="resnet", depth=50),
    "simplebaseline-r101": HeatmapConfig(backbone="resnet", depth=101),
    "simplebaseline-r152": HeatmapConfig(backbone="resnet", depth=152),
    "hrnet-w32": HeatmapConfig(backbone="hrnet", width=32, deconv_channels=()),
    "hrnet-w48": HeatmapConfig(backbone="hrnet", width=48, deconv_channels=()),
    "cspnext-t-udp": HeatmapConfig(backbone="cspnext", deepen=0.167, widen=0.375, codec="udp"),
    "cspnext-s-udp": HeatmapConfig(backbone="cspnext", deepen=0.33, widen=0.5, codec="udp"),
    "cspnext-m-udp": HeatmapConfig(backbone="cspnext", deepen=0.67, widen=0.75, codec="udp"),
    "cspnext-l-udp": HeatmapConfig(backbone="cspnext", deepen=1.0, widen=1.0, codec="udp"),
}

_ZOO = "https://download.openmmlab.com/mmpose/v1/body_2d_keypoint/topdown_heatmap/coco/"
_ZOO_DOC = "MMPose model zoo, configs/body_2d_keypoint/topdown_heatmap/coco"
_SIMPLEBASELINE = "Simple Baselines for Human Pose Estimation and Tracking (Xiao et al., ECCV 2018)"
_HRNET = "Deep High-Resolution Representation Learning for Human Pose Estimation (Sun et al., CVPR 2019)"


def _card(name: str, paper: str, **kwargs) -> ModelCard:
    return ModelCard(name=name, family="heatmap", paradigm="top-down", paper=paper, input_size=(256, 192),
                     **kwargs)


@register_model(_card(
    "simplebaseline-r50", _SIMPLEBASELINE, params_m=34.0, gmacs=5.46, coco_ap=71.8,
    checkpoint_url=_ZOO + "td-hm_res50_8xb64-210e_coco-256x192-04af38ce_20220923.pth",
    notes="params/GMACs/AP: shared/reference/README.md (MMPose zoo); the official config measures "
          "33,999,697 params and 5.426 GMACs (reference/official_sizes_and_keys.md). MSRA codec, sigma 2."))
def simplebaseline_r50(**overrides) -> HeatmapPoseModel:
    return build_heatmap_model(VARIANTS["simplebaseline-r50"], overrides)


@register_model(_card(
    "simplebaseline-r101", _SIMPLEBASELINE, params_m=53.0, gmacs=9.11, coco_ap=72.8,
    checkpoint_url=_ZOO + "td-hm_res101_8xb64-210e_coco-256x192-065d3625_20220926.pth",
    notes="GMACs 9.11 and AP 72.8: seeds/mmpose_model_zoo_analysis.txt (section 4.3) and " + _ZOO_DOC +
          "/resnet_coco.md. The 53.0 M parameters are not in the references or seeds; they are the "
          "architecture's count (ResNet-101 without classifier, 42.50 M, + deconv head, 10.49 M)."))
def simplebaseline_r101(**overrides) -> HeatmapPoseModel:
    return build_heatmap_model(VARIANTS["simplebaseline-r101"], overrides)


@register_model(_card(
    "simplebaseline-r152", _SIMPLEBASELINE, params_m=68.6, gmacs=12.77, coco_ap=73.6,
    checkpoint_url=_ZOO + "td-hm_res152_8xb32-210e_coco-256x192-0345f330_20220928.pth",
    notes="params 68.6 M, 12.77 GMACs, AP 73.6: seeds/mmpose_model_zoo_analysis.txt (table 1, section 4.3); "
          "checkpoint from " + _ZOO_DOC + "/resnet_coco.md."))
def simplebaseline_r152(**overrides) -> HeatmapPoseModel:
    return build_heatmap_model(VARIANTS["simplebaseline-r152"], overrides)


@register_model(_card(
    "hrnet-w32", _HRNET, params_m=28.5, gmacs=7.7, coco_ap=74.9,
    checkpoint_url=_ZOO + "td-hm_hrnet-w32_8xb64-210e_coco-256x192-81c58e40_20220909.pth",
    notes="params/GMACs/AP: shared/reference/README.md and seeds/mmpose_model_zoo_analysis.txt (table 1). "
          "MSRA codec, sigma 2; flip test shifts heatmaps 1 px."))
def hrnet_w32(**overrides) -> HeatmapPoseModel:
    return build_heatmap_model(VARIANTS["hrnet-w32"], overrides)


@register_model(_card(
    "hrnet-w48", _HRNET, params_m=63.6, gmacs=None, coco_ap=75.6,
    checkpoint_url=_ZOO + "td-hm_hrnet-w48_8xb32-210e_coco-256x192-0e67c616_20220913.pth",
    notes="params 63.6 M: seeds/mmpose_model_zoo_analysis.txt (table 1, the 384x288 UDP row; parameters do "
          "not depend on input size). The official GMACs at 256x192 are not in the references or seeds "
          "(posekit measures 15.69 with FlopCounterMode). AP 75.6 and checkpoint: " + _ZOO_DOC + "/hrnet_coco.md."))
def hrnet_w48(**overrides) -> HeatmapPoseModel:
    return build_heatmap_model(VARIANTS["hrnet-w48"], overrides)


_CSPNEXT_UDP = {"t": "cspnext-tiny_udp-aic-coco_210e-256x192-cbed682d_20230130.pth",
                "s": "cspnext-s_udp-aic-coco_210e-256x192-92f5a029_20230130.pth",
                "m": "cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth",
                "l": "cspnext-l_udp-aic-coco_210e-256x192-273b7631_20230130.pth"}


def _register_cspnext_udp(size: str) -> None:
    name = f"cspnext-{size}-udp"
    card = _card(name, RTMPOSE_PAPER, checkpoint_url=RTMPOSE_CHECKPOINTS + _CSPNEXT_UDP[size],
                 notes=f"CSPNeXt-{size} + HeatmapHead (three deconvolutions) + UDP codec, sigma 2: the heatmap "
                       f"model whose backbone initialises rtmpose-{size} (shared/reference/mmpose.md section 5.2, "
                       f"`init_cfg` prefix `backbone.`). No parameter or AP reference is given for it.")
    register_model(card)(lambda **overrides: build_heatmap_model(VARIANTS[name], overrides))


for _size in _CSPNEXT_UDP:
    _register_cspnext_udp(_size)
