"""ResNet (He et al., CVPR 2016) as a pose backbone, with MMPose's / torchvision's state-dict names.

    conv1, bn1                       7x7 stride-2 stem (then a 3x3 stride-2 max-pool)
    layer1 .. layer4                 residual stages; block i of stage s is `layer{s}.{i}`
    layer{s}.0.downsample.{0,1}      1x1 projection conv + BN where the shape changes

Bottleneck blocks put the stride on the 3x3 conv ("pytorch" style, MMPose's default). There is no
classification head: `ResNet.forward` returns the feature maps of the requested stages.
"""

from __future__ import annotations

import torch
from torch import nn

from posekit.core.errors import ConfigError


def conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


def conv1x1(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)


class BasicBlock(nn.Module):
    """Two 3x3 convs and a skip connection. Channels out = planes."""

    expansion = 1

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv3x3(in_channels, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand, and a skip connection. Channels out = 4 x planes."""

    expansion = 4

    def __init__(self, in_channels: int, planes: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = conv1x1(in_channels, planes)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = conv3x3(planes, planes, stride)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = conv1x1(planes, planes * self.expansion)
        self.bn3 = nn.BatchNorm2d(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def make_res_layer(block: type[BasicBlock | Bottleneck], in_channels: int, planes: int, num_blocks: int,
                   stride: int = 1) -> nn.Sequential:
    """`num_blocks` residual blocks; the first one strides and projects the skip when needed."""
    out_channels = planes * block.expansion
    downsample = None
    if stride != 1 or in_channels != out_channels:
        downsample = nn.Sequential(conv1x1(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels))
    blocks = [block(in_channels, planes, stride, downsample)]
    blocks += [block(out_channels, planes) for _ in range(num_blocks - 1)]
    return nn.Sequential(*blocks)


# depth -> (block, blocks per stage)
RESNET_DEPTHS: dict[int, tuple[type[BasicBlock | Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(nn.Module):
    """ResNet-18/34/50/101/152 backbone.

    Args:
        depth: one of RESNET_DEPTHS.
        base_channels: planes of layer1 (64 in the paper); later stages double it. Smaller values
            give the narrow models used in tests.
        out_indices: which stages (0..3) `forward` returns.

    forward: images (B,3,H,W) normalised -> tuple of features; stage s has
        base_channels * 2**s * expansion channels at stride 4 * 2**s.
    """

    def __init__(self, depth: int = 50, base_channels: int = 64, out_indices: tuple[int, ...] = (3,)):
        super().__init__()
        if depth not in RESNET_DEPTHS:
            raise ConfigError(f"unsupported ResNet depth {depth}: use one of {sorted(RESNET_DEPTHS)}")
        if not out_indices or not all(0 <= i <= 3 for i in out_indices):
            raise ConfigError(f"ResNet out_indices {out_indices} must be stage numbers in 0..3")
        block, stage_blocks = RESNET_DEPTHS[depth]
        self.out_indices = tuple(out_indices)
        self.conv1 = nn.Conv2d(3, base_channels, 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(base_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        in_channels = base_channels
        self.stage_channels = []
        for s, num_blocks in enumerate(stage_blocks):
            planes = base_channels * 2 ** s
            layer = make_res_layer(block, in_channels, planes, num_blocks, stride=1 if s == 0 else 2)
            self.add_module(f"layer{s + 1}", layer)
            in_channels = planes * block.expansion
            self.stage_channels.append(in_channels)

    @property
    def out_channels(self) -> list[int]:
        return [self.stage_channels[i] for i in self.out_indices]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for s in range(4):
            x = getattr(self, f"layer{s + 1}")(x)
            if s in self.out_indices:
                outs.append(x)
        return tuple(outs)
