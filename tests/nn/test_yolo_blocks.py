"""Ultralytics YOLO blocks: layouts (names, widths), and what each block computes."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from posekit.nn.yolo_blocks import (C2f, C2PSA, C3k, C3k2, SPPF, Attention, Bottleneck, Concat, Conv, DWConv,
                                    run_graph, upsample)



def test_conv_is_biasless_conv_bn_silu_with_ultralytics_bn_settings():
    conv = Conv(4, 8, 3, 2)
    assert set(conv.state_dict()) == {"conv.weight", "bn.weight", "bn.bias", "bn.running_mean",
                                      "bn.running_var", "bn.num_batches_tracked"}
    assert conv.bn.eps == 1e-3 and conv.bn.momentum == 0.03 and isinstance(conv.act, nn.SiLU)
    assert conv(torch.zeros(1, 4, 16, 10)).shape == (1, 8, 8, 5)
    assert isinstance(Conv(4, 8, act=False).act, nn.Identity)


def test_dwconv_groups_are_the_gcd_of_the_channels():
    assert DWConv(16, 16, 3).conv.groups == 16
    assert DWConv(12, 18, 3).conv.groups == 6
    assert DWConv(16, 16, 3).conv.weight.shape == (16, 1, 3, 3)


def _silence(conv: Conv) -> None:
    """Make a Conv output exactly zero (BN weight and bias 0, SiLU(0) = 0)."""
    nn.init.zeros_(conv.bn.weight)
    nn.init.zeros_(conv.bn.bias)


def test_bottleneck_adds_its_input_only_with_shortcut_and_equal_widths():
    x = torch.randn(1, 8, 5, 5)
    for shortcut, c2, identity in [(True, 8, True), (False, 8, False), (True, 16, False)]:
        block = Bottleneck(8, c2, shortcut=shortcut).eval()
        _silence(block.cv2)
        out = block(x)
        assert torch.equal(out, x) if identity else torch.count_nonzero(out) == 0
    assert Bottleneck(8, 8, e=0.5).cv1.conv.out_channels == 4


def test_c2f_concatenates_both_halves_and_every_block_output():
    block = C2f(16, 32, n=3, shortcut=True)
    assert block.c == 16 and block.cv1.conv.out_channels == 32
    assert block.cv2.conv.in_channels == (2 + 3) * 16
    assert all(m.cv1.conv.out_channels == 16 and m.add for m in block.m)  # expansion 1.0 bottlenecks
    assert block(torch.zeros(2, 16, 6, 6)).shape == (2, 32, 6, 6)


def test_c3k2_inner_blocks_depend_on_c3k():
    plain = C3k2(32, 64, n=2, c3k=False, e=0.25)
    assert plain.c == 16 and all(isinstance(m, Bottleneck) for m in plain.m)
    assert plain.m[0].cv1.conv.out_channels == 8  # the Bottleneck's default expansion 0.5
    nested = C3k2(32, 64, n=1, c3k=True)
    assert isinstance(nested.m[0], C3k) and len(nested.m[0].m) == 2
    assert nested.m[0].m[0].cv1.conv.kernel_size == (3, 3)  # C3k: k x k in both convs, not C3's 1x1
    assert "m.0.m.1.cv2.conv.weight" in nested.state_dict()
    assert nested(torch.zeros(1, 32, 4, 4)).shape == (1, 64, 4, 4)


def test_sppf_equals_pools_of_5_9_13_on_the_reduced_map():
    block = SPPF(16, 12, 5).eval()
    x = torch.randn(1, 16, 17, 13)
    y = block.cv1(x)
    pools = [F.max_pool2d(y, k, 1, k // 2) for k in (5, 9, 13)]
    expected = block.cv2(torch.cat([y, *pools], 1))
    assert torch.allclose(block(x), expected, atol=1e-6)


def test_attention_widths_and_global_receptive_field():
    attn = Attention(128, num_heads=2, attn_ratio=0.5).eval()
    assert (attn.head_dim, attn.key_dim) == (64, 32)
    assert attn.qkv.conv.out_channels == 128 + 2 * 32 * 2
    assert attn.pe.conv.groups == 128
    x = torch.randn(1, 128, 6, 6)
    far = x.clone()
    far[..., 0, 0] += 5.0
    with torch.no_grad():
        # 1x1 convs plus a 3x3 positional conv cannot reach the opposite corner; attention does.
        assert not torch.allclose(attn(x)[..., 5, 5], attn(far)[..., 5, 5])


def test_c2psa_layout_and_channel_check():
    block = C2PSA(256, 256, n=2)
    keys = block.state_dict()
    assert block.m[0].attn.num_heads == 2  # c / 64 with c = 128
    for key in ["cv1.conv.weight", "cv2.conv.weight", "m.1.attn.qkv.conv.weight", "m.0.attn.proj.bn.weight",
                "m.0.attn.pe.conv.weight", "m.0.ffn.0.conv.weight", "m.0.ffn.1.bn.running_var"]:
        assert key in keys
    assert keys["m.0.ffn.0.conv.weight"].shape == (256, 128, 1, 1)
    assert block(torch.zeros(1, 256, 2, 2)).shape == (1, 256, 2, 2)
    with pytest.raises(ValueError, match="keeps the channel count"):
        C2PSA(256, 128)


def test_run_graph_routes_skips_concats_and_returns_requested_layers():
    layers = [nn.Identity(), nn.MaxPool2d(2), upsample(), Concat(1), nn.Identity()]
    sources = [-1, -1, -1, (-1, 0), -1]
    x = torch.arange(16.0).view(1, 1, 4, 4)
    pooled, joined = run_graph(layers, sources, x, outputs=(1, 4))
    assert pooled.shape == (1, 1, 2, 2) and pooled[0, 0, 0, 0] == 5
    assert joined.shape == (1, 2, 4, 4)
    assert torch.equal(joined[:, 1:], x)  # the skip from layer 0
    assert torch.equal(joined[:, :1], F.interpolate(pooled, scale_factor=2.0, mode="nearest"))
