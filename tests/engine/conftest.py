"""A tiny RTMPose-t recipe on a six-image synthetic set, for the Trainer's tests."""

from pathlib import Path

import pytest

TINY_RECIPE = """
model: rtmpose-t
model_args: {{widen: 0.125, input_size: [32, 24], hidden_dims: 16, s: 8}}
data: {{train: {root}/train, val: {root}/val, synth_images: 6, synth_val_images: 2, synth_size: 128, workers: 0}}
epochs: 2
batch_size: 4
schedule: {{warmup_iters: 2}}
"""


@pytest.fixture(scope="session")
def write_tiny_recipe():
    """write(root, extra="") -> root/r.yaml: the tiny recipe with its data under root, plus `extra` YAML."""
    def write(root: Path, extra: str = "") -> Path:
        path = root / "r.yaml"
        path.write_text(TINY_RECIPE.format(root=root) + extra)
        return path
    return write
