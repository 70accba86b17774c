"""CSPDarknet, Focus, SPPF and YOLOXPAFPN: layout against the official keys, sizes and behaviour."""


import pytest
import torch

from posekit.core.errors import ConfigError
from posekit.nn.cspdarknet import SPPF, CSPDarknet, Focus
from posekit.nn.cspnext import DarknetBottleneck, SPPBottleneck
from posekit.nn.pafpn import YOLOXPAFPN
from official_keys import KEYS_DIR, read_keys

YOLOX_BN = dict(act="silu", bn_eps=1e-3, bn_momentum=0.03)


@pytest.mark.skipif(not KEYS_DIR.is_dir(), reason="the shared reference key lists are not on this machine")
@pytest.mark.parametrize("name, deepen, widen", [("rtmo-s", 0.33, 0.5), ("rtmo-l", 1.0, 1.0)])
def test_state_dict_equals_the_official_backbone_layout(name, deepen, widen):
    # RTMO and YOLOX-Pose share mmpose's CSPDarknet; the reference lists RTMO's keys.
    reference = read_keys(name, "backbone.")
    ours = {k: tuple(v.shape) for k, v in CSPDarknet(deepen, widen, **YOLOX_BN).state_dict().items()}
    assert len(reference) > 200
    assert ours == reference


@pytest.mark.parametrize("deepen, widen, blocks, widths", [
    (0.33, 0.375, [1, 3, 3, 1], [24, 48, 96, 192, 384]),
    (0.33, 0.5, [1, 3, 3, 1], [32, 64, 128, 256, 512]),
    (0.67, 0.75, [2, 6, 6, 2], [48, 96, 192, 384, 768]),
    (1.0, 1.0, [3, 9, 9, 3], [64, 128, 256, 512, 1024]),
])
def test_variant_depths_and_widths(deepen, widen, blocks, widths):
    net = CSPDarknet(deepen, widen, out_indices=(0, 1, 2, 3, 4))
    assert net.out_channels == widths
    assert [len(getattr(net, f"stage{i}")[-1].blocks) for i in range(1, 5)] == blocks
    assert isinstance(net.stage1[-1].blocks[0], DarknetBottleneck)
    assert isinstance(net.stage4[1], SPPBottleneck) and net.stem.conv.conv.in_channels == 12


def test_outputs_follow_out_indices_and_strides():
    net = CSPDarknet(0.33, 0.125, out_indices=(2, 3, 4)).eval()
    outs = net(torch.rand(1, 3, 64, 96))
    assert [o.shape for o in outs] == [(1, 32, 8, 12), (1, 64, 4, 6), (1, 128, 2, 3)]
    assert net.channels == [32, 64, 128] and net.strides == [8, 16, 32]
    stem_and_last = CSPDarknet(0.33, 0.125, out_indices=(0, 4)).eval()(torch.rand(1, 3, 64, 64))
    assert [o.shape[1] for o in stem_and_last] == [8, 128]


def test_last_stage_has_no_identity_and_the_others_do():
    net = CSPDarknet(0.33, 0.125)
    assert all(getattr(net, f"stage{i}")[-1].blocks[0].add_identity for i in (1, 2, 3))
    assert not net.stage4[-1].blocks[0].add_identity


def test_focus_concatenates_top_left_bottom_left_top_right_bottom_right():
    focus = Focus(1, 4)
    focus.conv = torch.nn.Identity()  # look at the space-to-depth alone
    x = torch.arange(16.0).reshape(1, 1, 4, 4)  # value = 4 * row + col
    out = focus(x)  # (1, 4, 2, 2)
    assert out.shape == (1, 4, 2, 2)
    assert out[0, :, 0, 0].tolist() == [0.0, 4.0, 1.0, 5.0]  # (0,0), (1,0), (0,1), (1,1) as (row, col)
    assert out[0, :, 1, 1].tolist() == [10.0, 14.0, 11.0, 15.0]


def test_sppf_equals_spp_5_9_13_on_the_same_weights():
    torch.manual_seed(0)
    spp = SPPBottleneck(16, 16, (5, 9, 13)).eval()
    sppf = SPPF(16, 16, 5).eval()
    sppf.load_state_dict(spp.state_dict())  # same keys: conv1, conv2
    x = torch.randn(2, 16, 11, 7)  # odd, small: the pools reach past every border
    torch.testing.assert_close(sppf(x), spp(x))
    net = CSPDarknet(0.33, 0.125, use_sppf=True)
    assert isinstance(net.stage4[1], SPPF)
    assert set(net.state_dict()) == set(CSPDarknet(0.33, 0.125).state_dict())


def test_bad_options_are_config_errors():
    with pytest.raises(ConfigError, match="arch"):
        CSPDarknet(arch="P7")
    with pytest.raises(ConfigError, match="out_indices"):
        CSPDarknet(out_indices=(5,))
    with pytest.raises(ConfigError, match="use_sppf"):
        CSPDarknet(use_sppf=True, spp_kernel_sizes=(3, 5, 7))
    with pytest.raises(ConfigError, match="two input levels"):
        YOLOXPAFPN([64], 32)


def test_pafpn_layout_and_shapes():
    # YOLOX-Pose-s neck: in [128, 256, 512], out 128, one CSP block; key counts from the reference
    neck = YOLOXPAFPN([128, 256, 512], 128, num_csp_blocks=1, **YOLOX_BN)
    counts = {}
    for key in neck.state_dict():
        counts[key.split(".")[0]] = counts.get(key.split(".")[0], 0) + 1
    assert counts == {"reduce_layers": 12, "top_down_blocks": 60, "downsamples": 12, "bottom_up_blocks": 60,
                      "out_convs": 18}
    assert neck.out_convs[0].conv.kernel_size == (1, 1) and neck.downsamples[0].conv.stride == (2, 2)
    assert neck.reduce_layers[0].conv.weight.shape == (256, 512, 1, 1)  # coarsest first, as mmdet

    small = YOLOXPAFPN([8, 16, 32], 12, num_csp_blocks=1).eval()
    outs = small((torch.rand(2, 8, 16, 12), torch.rand(2, 16, 8, 6), torch.rand(2, 32, 4, 3)))
    assert [o.shape for o in outs] == [(2, 12, 16, 12), (2, 12, 8, 6), (2, 12, 4, 3)]
    with pytest.raises(ConfigError, match="levels"):
        small((torch.rand(2, 8, 16, 12), torch.rand(2, 16, 8, 6)))
