"""CSPNeXt, its blocks, ConvModule and the GAU: structure (channels, depths, names) and behaviour."""

import math

import pytest
import torch

from posekit.core.errors import ConfigError
from posekit.nn.conv import ConvModule, DepthwiseConv2d, DepthwiseSeparableConvModule
from posekit.nn.cspnext import ChannelAttention, CSPLayer, CSPNeXt, SPPBottleneck
from posekit.nn.gau import RTMCCBlock, ScaleNorm


def test_conv_module_has_bias_only_without_norm_and_uses_given_bn_eps():
    with_norm = ConvModule(4, 8, 3, bn_eps=1e-3, bn_momentum=0.03)
    plain = ConvModule(4, 8, 1, norm=False, act=None)
    assert with_norm.conv.bias is None and with_norm.bn.eps == 1e-3 and with_norm.bn.momentum == 0.03
    assert plain.conv.bias is not None and set(plain.state_dict()) == {"conv.weight", "conv.bias"}
    assert with_norm(torch.zeros(2, 4, 9, 7)).shape == (2, 8, 9, 7)


def test_depthwise_separable_layout_and_stride():
    module = DepthwiseSeparableConvModule(6, 10, 5, stride=2)
    assert module.depthwise_conv.conv.weight.shape == (6, 1, 5, 5)
    assert module.pointwise_conv.conv.weight.shape == (10, 6, 1, 1)
    assert module(torch.zeros(1, 6, 16, 12)).shape == (1, 10, 8, 6)


@pytest.mark.parametrize("bias, stride", [(False, 1), (True, 2)])
def test_depthwise_conv_under_bf16_autocast_takes_float32_weight_gradients(bias, stride):
    torch.manual_seed(0)
    fast = ConvModule(8, 8, 5, stride=stride, groups=8, bias=bias, norm=False, act=None).conv
    plain = torch.nn.Conv2d(8, 8, 5, stride, 2, groups=8, bias=bias)
    plain.load_state_dict(fast.state_dict())
    assert isinstance(fast, DepthwiseConv2d) and type(ConvModule(8, 16, 3).conv) is torch.nn.Conv2d
    x = torch.randn(2, 8, 13, 11).to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    out_size = (13 + stride - 1) // stride, (11 + stride - 1) // stride
    grad_out = torch.randn(2, 8, *out_size).to(torch.bfloat16).float()  # the same values in both dtypes
    results = []
    for conv, dtype in ((fast, torch.bfloat16), (plain, torch.float32)):
        inputs = x.detach().to(dtype).requires_grad_(True)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == torch.bfloat16):
            out = conv(inputs)
        out.backward(grad_out.to(out.dtype))
        results.append((out.float(), inputs.grad.float(), conv.weight.grad, conv.bias.grad if bias else None))
    (out, grad_x, grad_w, grad_b), (ref_out, ref_grad_x, ref_grad_w, ref_grad_b) = results
    assert grad_w.dtype == torch.float32  # the parameter's dtype, not the activations'
    torch.testing.assert_close(out, ref_out, rtol=0.02, atol=0.02)
    torch.testing.assert_close(grad_x, ref_grad_x, rtol=0.02, atol=0.02)
    # The weight gradient is float32 arithmetic on the same bfloat16 values: float32-close.
    torch.testing.assert_close(grad_w, ref_grad_w, rtol=1e-5, atol=1e-5)
    if bias:
        torch.testing.assert_close(grad_b, ref_grad_b, rtol=1e-5, atol=1e-5)
    with torch.no_grad():  # inference and float32 training take nn.Conv2d's own path
        torch.testing.assert_close(fast(x.float()), plain(x.float()))


def test_channel_attention_pools_in_float32_without_overflow():
    attention = ChannelAttention(4)
    x = torch.full((1, 4, 64, 64), 60000.0)
    expected = x * attention.act(attention.fc(x.mean((2, 3), keepdim=True)))
    torch.testing.assert_close(attention(x), expected)
    assert torch.isfinite(attention.half()(x.half())).all()  # a float16 sum of 4,096 values of 6e4 overflows


def test_unknown_activation_is_a_config_error():
    with pytest.raises(ConfigError, match="activation"):
        ConvModule(3, 3, act="mish2")


@pytest.mark.parametrize("deepen, widen, blocks, widths", [
    (0.167, 0.375, [1, 1, 1, 1], [24, 48, 96, 192, 384]),
    (0.33, 0.5, [1, 2, 2, 1], [32, 64, 128, 256, 512]),
    (0.67, 0.75, [2, 4, 4, 2], [48, 96, 192, 384, 768]),
    (1.0, 1.0, [3, 6, 6, 3], [64, 128, 256, 512, 1024]),
])
def test_variant_depths_and_widths(deepen, widen, blocks, widths):
    net = CSPNeXt(deepen_factor=deepen, widen_factor=widen, out_indices=(0, 1, 2, 3, 4))
    assert net.out_channels == widths
    assert [len(getattr(net, f"stage{i}")[-1].blocks) for i in range(1, 5)] == blocks
    assert net.stem[0].conv.out_channels == widths[0] // 2


def test_outputs_follow_out_indices_with_strides_8_16_32():
    net = CSPNeXt(deepen_factor=0.167, widen_factor=0.125).eval()
    outs = net(torch.zeros(1, 3, 64, 96))
    assert [o.shape for o in outs] == [(1, 32, 8, 12), (1, 64, 4, 6), (1, 128, 2, 3)]
    assert net.channels == [32, 64, 128]


def test_depthwise_option_and_no_attention_change_the_layout():
    keys = set(CSPNeXt(deepen_factor=0.167, widen_factor=0.125, use_depthwise=True,
                       channel_attention=False).state_dict())
    assert "stage1.0.depthwise_conv.conv.weight" in keys and "stage1.0.conv.weight" not in keys
    assert "stage1.1.blocks.0.conv1.pointwise_conv.conv.weight" in keys
    assert not any("attention" in k for k in keys)


def test_bad_arch_or_out_indices_are_config_errors():
    with pytest.raises(ConfigError, match="arch"):
        CSPNeXt(arch="P7")
    with pytest.raises(ConfigError, match="out_indices"):
        CSPNeXt(out_indices=(5,))


def test_csp_layer_residual_and_attention():
    layer = CSPLayer(16, 16, num_blocks=2, channel_attention=True).eval()
    assert layer.attention.fc.weight.shape == (16, 16, 1, 1)
    assert layer.blocks[0].add_identity
    assert CSPLayer(8, 16, use_cspnext_block=False).blocks[0].conv1.conv.kernel_size == (1, 1)
    assert layer(torch.randn(2, 16, 5, 7)).shape == (2, 16, 5, 7)


def test_spp_concatenates_input_and_three_pools():
    spp = SPPBottleneck(16, 24)
    assert spp.conv2.conv.in_channels == 4 * 8
    assert [p.kernel_size for p in spp.poolings] == [5, 9, 13]
    assert spp(torch.randn(1, 16, 6, 5)).shape == (1, 24, 6, 5)


@pytest.mark.parametrize("kernel_sizes, chained", [((5, 9, 13), True), ((3, 7), False)])
def test_spp_pools_equal_direct_max_pools(kernel_sizes, chained):
    torch.manual_seed(0)
    spp = SPPBottleneck(16, 16, kernel_sizes).eval()
    assert spp.chained == chained
    x = torch.randn(2, 16, 11, 7)  # odd, small: the pools reach past every border
    with torch.no_grad():
        mid = spp.conv1(x)
        direct = [torch.nn.functional.max_pool2d(mid, k, stride=1, padding=k // 2) for k in kernel_sizes]
        torch.testing.assert_close(spp(x), spp.conv2(torch.cat([mid, *direct], dim=1)))


def test_scale_norm_rescales_to_sqrt_dim_times_g():
    norm = ScaleNorm(48)
    with torch.no_grad():
        norm.g.fill_(2.0)
    out = norm(torch.randn(3, 17, 48) * 7)
    torch.testing.assert_close(out.norm(dim=-1), torch.full((3, 17), 2.0 * math.sqrt(48)))


def test_gau_matches_the_written_out_formula():
    torch.manual_seed(0)
    gau = RTMCCBlock(num_token=5, in_token_dims=16, out_token_dims=16, expansion_factor=2, s=8).eval()
    with torch.no_grad():
        gau.res_scale.scale.uniform_(0.5, 1.5)
    x = torch.randn(2, 5, 16)
    xn = x / (x.norm(dim=-1, keepdim=True) / 4.0) * gau.ln.g
    uv = torch.nn.functional.silu(xn @ gau.uv.weight.T)
    u, v, base = uv[..., :32], uv[..., 32:64], uv[..., 64:]
    q, k = base * gau.gamma[0] + gau.beta[0], base * gau.gamma[1] + gau.beta[1]
    kernel = torch.relu(q @ k.transpose(1, 2) / math.sqrt(8)) ** 2
    expected = x * gau.res_scale.scale + (u * (kernel @ v)) @ gau.o.weight.T
    torch.testing.assert_close(gau(x), expected)
