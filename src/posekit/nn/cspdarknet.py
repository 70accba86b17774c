"""CSPDarknet (YOLOX; the backbone of YOLOX-Pose and RTMO) and its Focus stem.

    CSPDarknet(deepen_factor=0.33, widen_factor=0.5)          # YOLOX-s: strides 8, 16, 32
    CSPDarknet(1.0, 1.0, out_indices=(3, 4))                  # YOLOX-l, strides 16 and 32
    CSPDarknet(0.33, 0.5, use_sppf=True)                      # same outputs, faster SPP

Module names follow mmdet/mmpose `CSPDarknet` (stem.conv, stage{i}.{0,1,2}, main_conv, short_conv,
blocks.{j}.conv1/conv2, final_conv), so official checkpoints load by key. `**conv_kwargs` (act,
bn_eps, bn_momentum) go to every ConvModule; YOLOX uses SiLU with BN(momentum 0.03, eps 0.001).
"""

from __future__ import annotations

import torch
from torch import nn

from posekit.core.errors import ConfigError
from posekit.nn.conv import ConvModule, DepthwiseSeparableConvModule
from posekit.nn.cspnext import CSPLayer, SPPBottleneck

# Per stage: in_channels, out_channels, num_blocks, add_identity, use_spp (before widen/deepen).
ARCH_SETTINGS = {
    "P5": ((64, 128, 3, True, False), (128, 256, 9, True, False), (256, 512, 9, True, False),
           (512, 1024, 3, False, True)),
    "P6": ((64, 128, 3, True, False), (128, 256, 9, True, False), (256, 512, 9, True, False),
           (512, 768, 3, True, False), (768, 1024, 3, False, True)),
}


class Focus(nn.Module):
    """Space-to-depth then a conv: each 2x2 pixel block becomes 4x the channels, in the order
    (top-left, bottom-left, top-right, bottom-right), as YOLOX concatenates them.

    x (B, C, H, W) with H, W even -> (B, out_channels, H / 2, W / 2)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 1, **conv_kwargs):
        super().__init__()
        self.conv = ConvModule(in_channels * 4, out_channels, kernel_size, **conv_kwargs)

    def forward(self, x):
        x = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]], dim=1)
        return self.conv(x)  # (B, out_channels, H / 2, W / 2)


class SPPF(SPPBottleneck):
    """SPPBottleneck with pools of k, 2k - 1 and 3k - 2 (5, 9, 13 for k = 5), named by its one kernel
    as Ultralytics' SPPF is; SPPBottleneck computes those as one chained k x k pool. Same parameters
    and keys (conv1, conv2), so the two are interchangeable on the same weights.

    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int = 5, **conv_kwargs):
        super().__init__(in_channels, out_channels, (kernel_size, 2 * kernel_size - 1, 3 * kernel_size - 2),
                         **conv_kwargs)


class CSPDarknet(nn.Module):
    """The CSPDarknet backbone: a Focus stem (stride 2) and four (P5) or five (P6) stride-2 stages,
    each a 3x3 stride-2 conv, SPP in the last stage, then a CSPLayer of DarknetBottlenecks.

    Channels are int(c * widen_factor), blocks per stage max(round(n * deepen_factor), 1).
    out_indices: 0 = stem (stride 2), i = stage i (stride 2^(i+1)).
    x (B, 3, H, W) with H, W multiples of 2^(number of stages + 1) -> tuple of (B, C_i, H / s_i, W / s_i).
    """

    def __init__(self, deepen_factor: float = 1.0, widen_factor: float = 1.0, arch: str = "P5",
                 out_indices: tuple[int, ...] = (2, 3, 4), use_depthwise: bool = False,
                 spp_kernel_sizes: tuple[int, ...] = (5, 9, 13), use_sppf: bool = False, **conv_kwargs):
        super().__init__()
        if arch not in ARCH_SETTINGS:
            raise ConfigError(f"unknown CSPDarknet arch '{arch}': use one of {sorted(ARCH_SETTINGS)}")
        settings = ARCH_SETTINGS[arch]
        if not out_indices or not set(out_indices) <= set(range(len(settings) + 1)):
            raise ConfigError(f"CSPDarknet out_indices {tuple(out_indices)} must be a non-empty subset of "
                              f"0..{len(settings)} (0 = stem, i = stage i)")
        if use_sppf and tuple(spp_kernel_sizes) != (5, 9, 13):
            raise ConfigError(f"use_sppf computes the (5, 9, 13) pools only, got spp_kernel_sizes "
                              f"{tuple(spp_kernel_sizes)}: drop use_sppf or the custom sizes")
        self.out_indices = tuple(out_indices)
        conv3x3 = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.stem = Focus(3, int(settings[0][0] * widen_factor), 3, **conv_kwargs)
        self.layer_names = ["stem"]
        self.out_channels = [int(settings[0][0] * widen_factor)]
        for i, (cin, cout, n, add_identity, use_spp) in enumerate(settings, start=1):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            stage = [conv3x3(cin, cout, 3, stride=2, **conv_kwargs)]
            if use_spp:
                stage.append(SPPF(cout, cout, 5, **conv_kwargs) if use_sppf
                             else SPPBottleneck(cout, cout, tuple(spp_kernel_sizes), **conv_kwargs))
            stage.append(CSPLayer(cout, cout, 0.5, max(round(n * deepen_factor), 1), add_identity,
                                  use_depthwise, use_cspnext_block=False, **conv_kwargs))
            self.add_module(f"stage{i}", nn.Sequential(*stage))
            self.layer_names.append(f"stage{i}")
            self.out_channels.append(cout)

    @property
    def channels(self) -> list[int]:
        """Channels of each output, in out_indices order."""
        return [self.out_channels[i] for i in self.out_indices]

    @property
    def strides(self) -> list[int]:
        """Stride of each output, in out_indices order."""
        return [2 ** (i + 1) for i in self.out_indices]

    def forward(self, x) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layer_names[:max(self.out_indices) + 1]):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
