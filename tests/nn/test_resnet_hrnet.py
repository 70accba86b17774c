"""ResNet and HRNet backbones: sizes against known counts, MMPose state-dict names, shapes, wiring."""

import pytest
import torch

from posekit.core.errors import ConfigError
from posekit.nn.hrnet import HRNet
from posekit.nn.resnet import ResNet



def count(module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("depth, params", [
    # torchvision's resnet18/50/101 (11,689,512 / 25,557,032 / 44,549,160) less the 1000-way fc
    (18, 11_689_512 - 513_000),
    (50, 25_557_032 - 2_049_000),
    (101, 44_549_160 - 2_049_000),
])
def test_resnet_parameters_match_torchvision_without_classifier(depth, params):
    assert count(ResNet(depth)) == params


def test_resnet_keys_follow_the_official_layout():
    state = ResNet(50).state_dict()
    expected = {  # shapes of backbone.* in td-hm_res50 (reference/official_sizes_and_keys.md)
        "conv1.weight": (64, 3, 7, 7),
        "bn1.running_mean": (64,),
        "layer1.0.conv1.weight": (64, 64, 1, 1),
        "layer1.0.downsample.0.weight": (256, 64, 1, 1),
        "layer2.0.conv2.weight": (128, 128, 3, 3),  # stride on the 3x3 ("pytorch" style)
        "layer4.2.bn3.weight": (2048,),
    }
    for key, shape in expected.items():
        assert tuple(state[key].shape) == shape, key
    assert ResNet(50).layer2[0].conv2.stride == (2, 2)
    assert len(state) == 338 - 20  # the official model minus its 20 head entries


def test_resnet_returns_requested_stages_with_their_strides():
    net = ResNet(18, base_channels=8, out_indices=(0, 1, 2, 3))
    feats = net(torch.zeros(2, 3, 64, 96))
    assert [tuple(f.shape) for f in feats] == [(2, 8, 16, 24), (2, 16, 8, 12), (2, 32, 4, 6), (2, 64, 2, 3)]
    assert net.out_channels == [8, 16, 32, 64]


def test_resnet_rejects_unknown_depth():
    with pytest.raises(ConfigError, match="depth 42"):
        ResNet(42)


# HRNet-W32 backbone keys and shapes as in MMPose's HRNet (mmpose/models/backbones/hrnet.py):
# transitions grow new branches through nested Sequentials, HRModules hold `branches` and `fuse_layers`.
HRNET_W32_KEYS = {
    "conv1.weight": (64, 3, 3, 3),
    "bn2.running_var": (64,),
    "layer1.0.downsample.0.weight": (256, 64, 1, 1),
    "layer1.3.conv3.weight": (256, 64, 1, 1),
    "transition1.0.0.weight": (32, 256, 3, 3),
    "transition1.1.0.0.weight": (64, 256, 3, 3),
    "transition2.2.0.0.weight": (128, 64, 3, 3),
    "transition3.3.0.1.bias": (256,),
    "stage2.0.branches.1.3.conv2.weight": (64, 64, 3, 3),
    "stage2.0.fuse_layers.0.1.0.weight": (32, 64, 1, 1),
    "stage2.0.fuse_layers.1.0.0.0.weight": (64, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.0.0.weight": (32, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.1.0.weight": (128, 32, 3, 3),
    "stage3.3.fuse_layers.2.0.1.1.weight": (128,),
    "stage4.0.fuse_layers.3.2.0.0.weight": (256, 128, 3, 3),
    "stage4.2.branches.3.3.bn2.weight": (256,),
    "stage4.2.fuse_layers.0.3.0.weight": (32, 256, 1, 1),
}


def test_hrnet_keys_follow_mmpose():
    state = HRNet(32).state_dict()
    for key, shape in HRNET_W32_KEYS.items():
        assert tuple(state[key].shape) == shape, key
    # branches whose width does not change need no transition
    assert not any(k.startswith(("transition2.0.", "transition2.1.", "transition3.0.")) for k in state)
    # the last module of stage 4 fuses into the stride-4 branch only
    assert not any(k.startswith("stage4.2.fuse_layers.1.") for k in state)
    assert any(k.startswith("stage4.1.fuse_layers.3.") for k in state)


@pytest.mark.parametrize("width, params", [(32, 28_535_552), (48, 63_594_912)])
def test_hrnet_backbone_size(width, params):
    # + the 1x1 head (width*17 + 17) gives 28.536 M and 63.596 M: the official 28.5 M and 63.6 M
    assert count(HRNet(width)) == params


def test_hrnet_keeps_stride_4_and_every_branch_reaches_the_output():
    net = HRNet(width=8, stage_modules=(1, 1, 1), num_blocks=1, stem_channels=8)
    (out,) = net(torch.randn(2, 3, 64, 96))
    assert out.shape == (2, 8, 16, 24)
    out.square().mean().backward()
    lowest = net.stage4[0].branches[3][0].conv1.weight  # the stride-32 branch
    assert lowest.grad is not None and lowest.grad.abs().sum() > 0


def test_hrnet_rejects_bad_stage_layout():
    with pytest.raises(ConfigError, match="stage_modules"):
        HRNet(stage_modules=(1, 1))
