"""Path-aggregation necks of RTMDet (CSPNeXtPAFPN) and YOLOX / YOLOX-Pose (YOLOXPAFPN), one
structure with mmdet's layout and names.

    CSPNeXtPAFPN([96, 192, 384], 96, num_csp_blocks=1)                       # RTMDet-tiny
    CSPNeXtPAFPN([64, 128, 256], 64, num_csp_blocks=1, use_depthwise=True)   # RTMDet-nano
    YOLOXPAFPN([128, 256, 512], 128, num_csp_blocks=1)                       # YOLOX-Pose-s

Top-down: reduce the coarser map with a 1x1 conv, upsample x2 (nearest), concat [upsampled, finer],
CSPLayer. Bottom-up: 3x3 stride-2 conv, concat [downsampled, top-down map], CSPLayer. Then an out
conv per level to `out_channels`. The two necks differ only in their CSP blocks (CSPNeXt blocks vs
DarknetBottlenecks) and out convs (3x3, depthwise-separable with `use_depthwise`, vs 1x1). With
`use_depthwise` the downsample convs and the blocks' 3x3 convs are depthwise-separable too (mmdet
3.3.0; the 0.99 M RTMDet-nano parameter count needs this).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from posekit.core.errors import ConfigError
from posekit.nn.conv import ConvModule, DepthwiseSeparableConvModule
from posekit.nn.cspnext import CSPLayer


class PAFPN(nn.Module):
    """inputs: tuple of (B, in_channels[i], H / s_i, W / s_i), finest first, each level half the
    previous size -> tuple of (B, out_channels, H / s_i, W / s_i), same order.

    `**conv_kwargs` (act, bn_eps, bn_momentum) go to every ConvModule.
    """

    use_cspnext_block = True
    out_kernel_size = 3

    def __init__(self, in_channels: list[int], out_channels: int, num_csp_blocks: int = 3,
                 use_depthwise: bool = False, expand_ratio: float = 0.5, **conv_kwargs):
        super().__init__()
        if len(in_channels) < 2:
            raise ConfigError(f"{type(self).__name__} needs at least two input levels, got in_channels={in_channels}")
        self.in_channels = list(in_channels)
        self.out_channels = out_channels
        conv3x3 = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        out_conv = conv3x3 if self.out_kernel_size == 3 else ConvModule

        def csp(cin, cout):
            return CSPLayer(cin, cout, expand_ratio, num_csp_blocks, add_identity=False, use_depthwise=use_depthwise,
                            use_cspnext_block=self.use_cspnext_block, **conv_kwargs)

        # Top-down modules are listed coarsest first, as mmdet builds them.
        coarse_to_fine = range(len(in_channels) - 1, 0, -1)
        self.reduce_layers = nn.ModuleList(
            ConvModule(in_channels[i], in_channels[i - 1], 1, **conv_kwargs) for i in coarse_to_fine)
        self.top_down_blocks = nn.ModuleList(csp(in_channels[i - 1] * 2, in_channels[i - 1]) for i in coarse_to_fine)
        fine_to_coarse = range(len(in_channels) - 1)
        self.downsamples = nn.ModuleList(
            conv3x3(in_channels[i], in_channels[i], 3, stride=2, **conv_kwargs) for i in fine_to_coarse)
        self.bottom_up_blocks = nn.ModuleList(csp(in_channels[i] * 2, in_channels[i + 1]) for i in fine_to_coarse)
        self.out_convs = nn.ModuleList(out_conv(c, out_channels, self.out_kernel_size, **conv_kwargs)
                                       for c in in_channels)

    def forward(self, inputs: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
        if len(inputs) != len(self.in_channels):
            raise ConfigError(f"{type(self).__name__} was built for {len(self.in_channels)} levels, "
                              f"got {len(inputs)}")
        # inner[0] is the finest map built so far; the coarser map it came from is replaced by its
        # reduced version, which the bottom-up path concatenates with.
        inner = [inputs[-1]]
        for k, i in enumerate(range(len(inputs) - 1, 0, -1)):
            inner[0] = self.reduce_layers[k](inner[0])
            up = F.interpolate(inner[0], scale_factor=2.0, mode="nearest")
            inner.insert(0, self.top_down_blocks[k](torch.cat([up, inputs[i - 1]], dim=1)))
        outs = [inner[0]]
        for i in range(len(inputs) - 1):
            down = self.downsamples[i](outs[-1])
            outs.append(self.bottom_up_blocks[i](torch.cat([down, inner[i + 1]], dim=1)))
        return tuple(conv(x) for conv, x in zip(self.out_convs, outs))


class CSPNeXtPAFPN(PAFPN):
    """RTMDet's neck: CSPNeXt blocks (no channel attention), 3x3 out convs."""


class YOLOXPAFPN(PAFPN):
    """YOLOX's neck: DarknetBottleneck CSP blocks, 1x1 out convs."""

    use_cspnext_block = False
    out_kernel_size = 1
