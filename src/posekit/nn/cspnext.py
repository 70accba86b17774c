"""CSPNeXt (RTMDet, RTMPose) and the CSP blocks it is made of.

    CSPNeXt(deepen_factor=0.67, widen_factor=0.75, out_indices=(4,))   # RTMPose-m backbone
    CSPNeXt(deepen_factor=0.167, widen_factor=0.375)                   # RTMDet-tiny: strides 8, 16, 32
    CSPLayer(192, 192, num_blocks=2, channel_attention=False)          # a CSPNeXtPAFPN block

Module names follow mmdet's `CSPNeXt` (stem.{0,1,2}, stage{i}.{0,1,2}, main_conv, short_conv, blocks,
attention.fc, final_conv), so official checkpoints load by key. `**conv_kwargs` (act, bn_eps,
bn_momentum) are forwarded to every ConvModule.
"""

from __future__ import annotations

import torch
from torch import nn

from posekit.core.errors import ConfigError
from posekit.nn.conv import ConvModule, DepthwiseSeparableConvModule

# Per stage: in_channels, out_channels, num_blocks, add_identity, use_spp (before widen/deepen).
ARCH_SETTINGS = {
    "P5": ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False),
           (512, 1024, 3, False, True)),
    "P6": ((64, 128, 3, True, False), (128, 256, 6, True, False), (256, 512, 6, True, False),
           (512, 768, 3, True, False), (768, 1024, 3, False, True)),
}


def _conv3x3(use_depthwise: bool):
    return DepthwiseSeparableConvModule if use_depthwise else ConvModule


class ChannelAttention(nn.Module):
    """Squeeze-and-excite without reduction: x * hardsigmoid(fc(avgpool(x))).

    x (B, C, H, W) -> (B, C, H, W)
    """

    def __init__(self, channels: int):
        super().__init__()
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x):
        # The mean accumulates in float32 (a float16 sum over H*W can overflow) without a float32 copy of x.
        pooled = (x.sum((2, 3), keepdim=True, dtype=torch.float32) / (x.shape[2] * x.shape[3])).to(x.dtype)
        return x * self.act(self.fc(pooled))


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling (YOLOv3 SPP): 1x1 conv to C/2, concat with max-pools of kernel 5, 9, 13
    (stride 1), 1x1 conv to out_channels.

    Kernels k, 2k - 1, 3k - 2 (5, 9, 13) are computed as one k x k pool applied once, twice and three
    times (Ultralytics' SPPF): the same outputs exactly, because max-pool padding is -inf, from
    3 x 25 window values per output instead of 25 + 81 + 169.

    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_sizes: tuple[int, ...] = (5, 9, 13),
                 **conv_kwargs):
        super().__init__()
        mid = in_channels // 2
        self.conv1 = ConvModule(in_channels, mid, 1, **conv_kwargs)
        self.poolings = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = ConvModule(mid * (len(kernel_sizes) + 1), out_channels, 1, **conv_kwargs)
        k = kernel_sizes[0]
        self.chained = tuple(kernel_sizes) == tuple(k + i * (k - 1) for i in range(len(kernel_sizes)))

    def forward(self, x):
        pooled = [self.conv1(x)]
        for pool in self.poolings:
            pooled.append(self.poolings[0](pooled[-1]) if self.chained else pool(pooled[0]))
        return self.conv2(torch.cat(pooled, dim=1))  # cat: (B, mid * (1 + n_pools), H, W)


class CSPNeXtBlock(nn.Module):
    """3x3 conv then 5x5 depthwise-separable conv, with a residual when shapes allow.

    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 0.5,
                 add_identity: bool = True, use_depthwise: bool = False, kernel_size: int = 5,
                 **conv_kwargs):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = _conv3x3(use_depthwise)(in_channels, hidden, 3, **conv_kwargs)
        self.conv2 = DepthwiseSeparableConvModule(hidden, out_channels, kernel_size, **conv_kwargs)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class DarknetBottleneck(nn.Module):
    """1x1 conv then 3x3 conv, with a residual when shapes allow (the CSPDarknet / YOLOX block).

    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, expansion: float = 0.5,
                 add_identity: bool = True, use_depthwise: bool = False, **conv_kwargs):
        super().__init__()
        hidden = int(out_channels * expansion)
        self.conv1 = ConvModule(in_channels, hidden, 1, **conv_kwargs)
        self.conv2 = _conv3x3(use_depthwise)(hidden, out_channels, 3, **conv_kwargs)
        self.add_identity = add_identity and in_channels == out_channels

    def forward(self, x):
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage partial layer: main branch (1x1 conv + blocks) and short branch (1x1 conv),
    concatenated [main, short], optional channel attention, 1x1 conv to out_channels.

    use_cspnext_block: CSPNeXtBlock (RTMDet/RTMPose) or DarknetBottleneck (YOLOX/RTMO).
    x (B, in_channels, H, W) -> (B, out_channels, H, W)
    """

    def __init__(self, in_channels: int, out_channels: int, expand_ratio: float = 0.5,
                 num_blocks: int = 1, add_identity: bool = True, use_depthwise: bool = False,
                 use_cspnext_block: bool = True, channel_attention: bool = False, **conv_kwargs):
        super().__init__()
        mid = int(out_channels * expand_ratio)
        block = CSPNeXtBlock if use_cspnext_block else DarknetBottleneck
        self.main_conv = ConvModule(in_channels, mid, 1, **conv_kwargs)
        self.short_conv = ConvModule(in_channels, mid, 1, **conv_kwargs)
        self.blocks = nn.Sequential(*(block(mid, mid, 1.0, add_identity, use_depthwise, **conv_kwargs)
                                      for _ in range(num_blocks)))
        self.attention = ChannelAttention(2 * mid) if channel_attention else nn.Identity()
        self.final_conv = ConvModule(2 * mid, out_channels, 1, **conv_kwargs)

    def forward(self, x):
        x = torch.cat([self.blocks(self.main_conv(x)), self.short_conv(x)], dim=1)  # (B, 2 * mid, H, W)
        return self.final_conv(self.attention(x))


class CSPNeXt(nn.Module):
    """The CSPNeXt backbone: a three-conv stem (stride 2) and four (P5) or five (P6) stride-2 stages.

    Channels are int(c * widen_factor), blocks per stage max(round(n * deepen_factor), 1).
    out_indices: 0 = stem (stride 2), i = stage i (stride 2^(i+1)).
    x (B, 3, H, W) normalised image -> tuple of (B, C_i, H / s_i, W / s_i), one per out index.
    """

    def __init__(self, arch: str = "P5", deepen_factor: float = 1.0, widen_factor: float = 1.0,
                 out_indices: tuple[int, ...] = (2, 3, 4), use_depthwise: bool = False,
                 expand_ratio: float = 0.5, channel_attention: bool = True,
                 spp_kernel_sizes: tuple[int, ...] = (5, 9, 13), **conv_kwargs):
        super().__init__()
        if arch not in ARCH_SETTINGS:
            raise ConfigError(f"unknown CSPNeXt arch '{arch}': use one of {sorted(ARCH_SETTINGS)}")
        settings = ARCH_SETTINGS[arch]
        if not out_indices or not set(out_indices) <= set(range(len(settings) + 1)):
            raise ConfigError(f"CSPNeXt out_indices {tuple(out_indices)} must be a non-empty subset of "
                              f"0..{len(settings)} (0 = stem, i = stage i)")
        self.out_indices = tuple(out_indices)
        stem_width = int(settings[0][0] * widen_factor // 2)
        self.stem = nn.Sequential(
            ConvModule(3, stem_width, 3, stride=2, **conv_kwargs),
            ConvModule(stem_width, stem_width, 3, **conv_kwargs),
            ConvModule(stem_width, int(settings[0][0] * widen_factor), 3, **conv_kwargs))
        self.layer_names = ["stem"]
        self.out_channels = [int(settings[0][0] * widen_factor)]
        for i, (cin, cout, n, add_identity, use_spp) in enumerate(settings, start=1):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            stage = [_conv3x3(use_depthwise)(cin, cout, 3, stride=2, **conv_kwargs)]
            if use_spp:
                stage.append(SPPBottleneck(cout, cout, spp_kernel_sizes, **conv_kwargs))
            stage.append(CSPLayer(cout, cout, expand_ratio, max(round(n * deepen_factor), 1), add_identity,
                                  use_depthwise, use_cspnext_block=True, channel_attention=channel_attention,
                                  **conv_kwargs))
            self.add_module(f"stage{i}", nn.Sequential(*stage))
            self.layer_names.append(f"stage{i}")
            self.out_channels.append(cout)

    @property
    def channels(self) -> list[int]:
        """Channels of each output, in out_indices order."""
        return [self.out_channels[i] for i in self.out_indices]

    def forward(self, x) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layer_names):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
