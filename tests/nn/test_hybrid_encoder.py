"""HybridEncoder (RTMO's neck): official layout, RepVGG fusion, sin-cos encoding, AIFI, CCFF shapes."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from posekit.core.errors import ConfigError
from posekit.nn.hybrid_encoder import (CSPRepLayer, HybridEncoder, RepVGGBlock, SinePositionalEncoding,
                                       TransformerEncoderLayer, fold_batchnorm, fuse_repvgg)

KEYS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "mmpose_keys"



def reference_shapes(variant: str, prefix: str) -> dict[str, tuple[int, ...]]:
    """key -> shape of the official state dict (reference/mmpose_keys), restricted to `prefix`."""
    out = {}
    for line in (KEYS / f"keys_{variant}.txt").read_text().splitlines():
        if line.startswith("#") or not line.strip():
            continue
        key, shape = line.split(" ", 1)
        if key.startswith(prefix):
            out[key[len(prefix):]] = tuple(int(n) for n in shape.strip("[]").split(",") if n.strip())
    return out


def randomise_batchnorms(module: nn.Module, seed: int = 0) -> None:
    """Non-trivial BN statistics and affine parameters, so that fusion has something to fold."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.5)
            m.weight.data.copy_(torch.randn(n, generator=g))
            m.bias.data.copy_(torch.randn(n, generator=g))


# (backbone channels, widen, deepen, official neck parameters from reference §12)
OFFICIAL_NECKS = {"rtmo-s": ([128, 256, 512], 0.5, 0.33, 3_782_400),
                  "rtmo-l": ([256, 512, 1024], 1.0, 1.0, 11_756_288)}


@pytest.mark.skipif(not KEYS.is_dir(), reason="reference key lists not available")
@pytest.mark.parametrize("variant", sorted(OFFICIAL_NECKS))
def test_neck_keys_and_shapes_equal_the_official_layout(variant):
    channels, widen, deepen, params = OFFICIAL_NECKS[variant]
    neck = HybridEncoder(channels, widen_factor=widen, deepen_factor=deepen, output_indices=(1, 2),
                         projector_channels=2 * int(256 * widen))
    ours = {k: tuple(v.shape) for k, v in neck.state_dict().items()}
    assert ours == reference_shapes(variant, "neck.")
    assert sum(p.numel() for p in neck.parameters()) == params


def test_repvgg_fusion_gives_identical_outputs_with_fewer_parameters():
    block = RepVGGBlock(6, 5)
    randomise_batchnorms(block)
    block.eval()
    x = torch.randn(2, 6, 9, 7)
    before = block(x)
    params_before = sum(p.numel() for p in block.parameters())
    block.fuse()
    assert block.fused and not hasattr(block, "branch_1x1") and not hasattr(block, "branch_3x3")
    torch.testing.assert_close(block(x), before, atol=1e-5, rtol=1e-5)
    # 1x1 kernel and both BNs' affine parameters go; the fused conv gains one bias per output channel
    assert params_before - sum(p.numel() for p in block.parameters()) == 5 * 6 + 2 * 2 * 5 - 5
    block.fuse()  # a second call changes nothing
    torch.testing.assert_close(block(x), before, atol=1e-5, rtol=1e-5)
    assert set(block.state_dict()) == {"conv_reparam.weight", "conv_reparam.bias"}


def test_fuse_repvgg_on_the_whole_neck_keeps_its_outputs():
    neck = HybridEncoder([8, 16, 32], hidden_dim=32, widen_factor=0.5, deepen_factor=0.67, num_heads=4,
                         ffn_channels=48, output_indices=(1, 2), projector_channels=24)
    randomise_batchnorms(neck, seed=1)
    neck.eval()
    feats = [torch.randn(2, 8, 16, 16), torch.randn(2, 16, 8, 8), torch.randn(2, 32, 4, 4)]
    with torch.no_grad():
        before = neck(feats)
        fuse_repvgg(neck)
        after = neck(feats)
    blocks = [m for m in neck.modules() if isinstance(m, RepVGGBlock)]
    assert len(blocks) == 4 * 2 and all(b.fused for b in blocks)  # 4 CSPRepLayers x round(3 * 0.67)
    for a, b in zip(after, before):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)


def test_fold_batchnorm_into_a_linear_layer():
    fc, bn = nn.Linear(5, 7), nn.BatchNorm1d(7)
    randomise_batchnorms(bn, seed=2)
    bn.eval()
    x = torch.randn(4, 5)
    weight, bias = fold_batchnorm(fc.weight, fc.bias, bn)
    torch.testing.assert_close(x @ weight.T + bias, bn(fc(x)), atol=1e-5, rtol=1e-5)


def test_sine_encoding_values_and_2d_channel_layout():
    enc = SinePositionalEncoding(8, temperature=100.0)
    dim_t = 100.0 ** (np.arange(4) / 4)
    np.testing.assert_allclose(enc.dim_t.numpy(), dim_t, rtol=1e-6)
    grid = enc.grid(3, 5).numpy()  # (15, 16)
    r, c = 2, 3
    expected = np.concatenate([np.cos(r / dim_t), np.sin(r / dim_t), np.cos(c / dim_t), np.sin(c / dim_t)])
    np.testing.assert_allclose(grid[r * 5 + c], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(enc(torch.tensor([2.5])).numpy()[0],
                               np.concatenate([np.cos(2.5 / dim_t), np.sin(2.5 / dim_t)]), rtol=1e-5)
    with pytest.raises(ConfigError, match="even"):
        SinePositionalEncoding(7)


def test_encoder_layer_is_post_norm_and_sees_positions():
    torch.manual_seed(0)
    layer = TransformerEncoderLayer(dim=16, num_heads=4, ffn_channels=32).eval()
    x, pos = torch.randn(2, 6, 16), torch.randn(1, 6, 16)
    with torch.no_grad():
        out = layer(x, pos)
        moved = layer(x, pos.roll(1, dims=1))
    # the last op is a LayerNorm with unit weight and zero bias
    torch.testing.assert_close(out.mean(-1), torch.zeros(2, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.std(-1, unbiased=False), torch.ones(2, 6), atol=1e-3, rtol=0)
    assert not torch.allclose(out, moved, atol=1e-3)


def test_hybrid_encoder_levels_channels_and_csp_conv3():
    neck = HybridEncoder([8, 16, 32], hidden_dim=32, widen_factor=0.5, deepen_factor=0.33, num_heads=4,
                         ffn_channels=48).eval()
    outs = neck([torch.zeros(1, 8, 16, 12), torch.zeros(1, 16, 8, 6), torch.zeros(1, 32, 4, 3)])
    assert [o.shape for o in outs] == [(1, 32, 16, 12), (1, 32, 8, 6), (1, 32, 4, 3)]
    assert neck.out_channels == 32 and neck.projector is None
    assert isinstance(CSPRepLayer(64, 32, 1, widen_factor=1.0).conv3, nn.Identity)
    assert CSPRepLayer(64, 32, 1, widen_factor=0.5).conv3.conv.out_channels == 32


def test_hybrid_encoder_refuses_bad_configurations():
    with pytest.raises(ConfigError, match="two input levels"):
        HybridEncoder([8])
    with pytest.raises(ConfigError, match="output_indices"):
        HybridEncoder([8, 16], hidden_dim=32, num_heads=4, output_indices=(2,))
    with pytest.raises(ConfigError, match="divisible"):
        HybridEncoder([8, 16], hidden_dim=30, num_heads=4)
    neck = HybridEncoder([8, 16], hidden_dim=32, num_heads=4)
    with pytest.raises(ConfigError, match="levels"):
        neck([torch.zeros(1, 8, 8, 8)])


def test_attention_products_are_counted_as_macs():
    """The official GMACs include the attention matmuls; the encoder must not hide them in a fused kernel."""
    from torch.utils.flop_counter import FlopCounterMode

    layer = TransformerEncoderLayer(dim=16, num_heads=4, ffn_channels=32).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        layer(torch.zeros(1, 10, 16), torch.zeros(1, 10, 16))
    macs = counter.get_total_flops() / 2
    projections = 10 * 16 * 3 * 16 + 10 * 16 * 16 + 2 * 10 * 16 * 32
    assert macs == projections + 2 * 10 * 10 * 16 and math.isfinite(macs)
