"""HRNet (Sun et al., CVPR 2019): parallel branches at strides 4, 8, 16, 32 that exchange information
after every module. Module names follow MMPose's `HRNet`, so official checkpoints load by name:

    conv1, bn1, conv2, bn2                  two 3x3 stride-2 convs (stride 4 overall)
    layer1                                  4 Bottlenecks, 64 -> 256 channels
    transition1 .. transition3              new branches: transition{s}.{i}.{k}.{0: conv, 1: bn}
                                            (or transition1.0.{0,1} when a branch changes width)
    stage2 .. stage4                        HRModules: stage{s}.{m}.branches.{i}.{block}...
                                            and stage{s}.{m}.fuse_layers.{i}.{j}...

Branch i has `width * 2**i` channels. As in MMPose's pose configs, the last module of stage 4 only
fuses into the highest-resolution branch, so the backbone returns one (B, width, H/4, W/4) map.
Inputs must have sides divisible by 32 so that the branch resolutions halve exactly.
"""

from __future__ import annotations

import torch
from torch import nn

from posekit.core.errors import ConfigError
from posekit.nn.resnet import BasicBlock, Bottleneck, conv1x1, conv3x3, make_res_layer


def _conv_bn(in_channels: int, out_channels: int, stride: int, relu: bool) -> nn.Sequential:
    layers = [conv3x3(in_channels, out_channels, stride), nn.BatchNorm2d(out_channels)]
    return nn.Sequential(*layers, nn.ReLU(inplace=True)) if relu else nn.Sequential(*layers)


class HRModule(nn.Module):
    """One exchange unit: a stack of BasicBlocks per branch, then every output branch sums all
    branches brought to its resolution (1x1 conv + nearest upsampling from lower resolutions,
    chains of 3x3 stride-2 convs from higher ones).

    forward: list of num_branches maps (B, C_i, H/2**i, W/2**i) -> list of the same layout
        (only the first when multiscale_output is False).
    """

    def __init__(self, channels: list[int], num_blocks: int, multiscale_output: bool = True):
        super().__init__()
        self.num_branches = len(channels)
        self.branches = nn.ModuleList(make_res_layer(BasicBlock, c, c, num_blocks) for c in channels)
        num_outputs = self.num_branches if multiscale_output else 1
        self.fuse_layers = (nn.ModuleList(self._fuse_row(channels, i) for i in range(num_outputs))
                            if self.num_branches > 1 else None)
        self.relu = nn.ReLU(inplace=False)

    @staticmethod
    def _fuse_row(channels: list[int], i: int) -> nn.ModuleList:
        """Layers that bring each branch j to the resolution and width of branch i (None for j == i)."""
        row = nn.ModuleList()
        for j, c in enumerate(channels):
            if j > i:
                row.append(nn.Sequential(conv1x1(c, channels[i]), nn.BatchNorm2d(channels[i]),
                                         nn.Upsample(scale_factor=2 ** (j - i), mode="nearest")))
            elif j == i:
                row.append(None)
            else:
                steps = i - j
                row.append(nn.Sequential(*(
                    _conv_bn(c, channels[i], 2, relu=False) if k == steps - 1 else _conv_bn(c, c, 2, relu=True)
                    for k in range(steps))))
        return row

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        fused = []
        for row in self.fuse_layers:
            terms = [x if layer is None else layer(x) for layer, x in zip(row, xs)]
            fused.append(self.relu(sum(terms[1:], terms[0])))
        return fused


def _transition(pre_channels: list[int], channels: list[int]) -> nn.ModuleList:
    """Adapt the branches of one stage to the next: change width where it differs (None where it
    does not), and grow each new branch from the lowest-resolution one by stride-2 3x3 convs."""
    layers = nn.ModuleList()
    for i, c in enumerate(channels):
        if i < len(pre_channels):
            layers.append(_conv_bn(pre_channels[i], c, 1, relu=True) if c != pre_channels[i] else None)
        else:
            extra = i + 1 - len(pre_channels)
            src = pre_channels[-1]
            layers.append(nn.Sequential(*(
                _conv_bn(src, c if k == extra - 1 else src, 2, relu=True) for k in range(extra))))
    return layers


class HRNet(nn.Module):
    """HRNet-W{width} backbone.

    Args:
        width: channels of the highest-resolution branch (32 for HRNet-W32, 48 for W48).
        stage_modules: HRModules in stages 2, 3, 4 (1, 4, 3 in the paper).
        num_blocks: BasicBlocks per branch in every HRModule (4 in the paper).
        stem_channels: stem width; layer1 outputs 4x this (64 -> 256 in the paper).

    forward: images (B,3,H,W) normalised, H and W divisible by 32 -> (features,) with
        features (B, width, H/4, W/4).
    """

    def __init__(self, width: int = 32, stage_modules: tuple[int, int, int] = (1, 4, 3), num_blocks: int = 4,
                 stem_channels: int = 64):
        super().__init__()
        if len(stage_modules) != 3 or min(stage_modules) < 1 or num_blocks < 1 or width < 1:
            raise ConfigError(f"HRNet needs three positive stage_modules (got {stage_modules}), "
                              f"num_blocks >= 1 (got {num_blocks}) and width >= 1 (got {width})")
        self.conv1 = conv3x3(3, stem_channels, 2)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.conv2 = conv3x3(stem_channels, stem_channels, 2)
        self.bn2 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_res_layer(Bottleneck, stem_channels, stem_channels, 4)

        pre_channels = [stem_channels * Bottleneck.expansion]
        for s, num_modules in enumerate(stage_modules, start=2):
            channels = [width * 2 ** i for i in range(s)]
            self.add_module(f"transition{s - 1}", _transition(pre_channels, channels))
            last_stage = s == 4
            self.add_module(f"stage{s}", nn.Sequential(*(
                HRModule(channels, num_blocks, multiscale_output=not (last_stage and m == num_modules - 1))
                for m in range(num_modules))))
            pre_channels = channels
        self.out_channels = [width]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in (2, 3, 4):
            transition = getattr(self, f"transition{s - 1}")
            xs = [ys[min(i, len(ys) - 1)] if t is None else t(ys[min(i, len(ys) - 1)])
                  for i, t in enumerate(transition)]
            ys = getattr(self, f"stage{s}")(xs)
        return (ys[0],)
