"""The Trainer end to end on a tiny synthetic set: logs, checkpoints, curves, exact resume."""

import json

import pytest
import torch

from posekit.engine.recipe import load_recipe
from posekit.engine.trainer import Trainer

TINY = """
model: rtmpose-t
model_args: {{widen: 0.125, input_size: [32, 24], hidden_dims: 16, s: 8}}
data: {{train: {root}/train, val: {root}/val, synth_images: 6, synth_val_images: 2, synth_size: 128, workers: 0}}
epochs: 2
batch_size: 4
schedule: {{warmup_iters: 2}}
ema: true
"""


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    path = root / "r.yaml"
    path.write_text(TINY.format(root=root))
    return path


def _state(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_resume_continues_exactly(recipe_file, tmp_path):
    straight = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/a"]), quiet=True)
    straight.fit()
    interrupted = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/b"]), quiet=True)
    interrupted.fit(until_epoch=1)
    resumed = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/b"]), resume=True, quiet=True)
    assert resumed.epoch == 1 and resumed.step == interrupted.step
    resumed.fit()
    a, b = _state(straight), _state(resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k

    out = tmp_path / "a"
    for name in ("last.pt", "best.pt", "metrics.jsonl", "curves.png"):
        assert (out / name).is_file(), name
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == ["train", "val", "train", "val"]
    assert "val/AP" in records[-1] and "loss_kpt" in records[0]
    ckpt = torch.load(out / "last.pt", weights_only=True)
    assert ckpt["model"] == "rtmpose-t" and ckpt["epoch"] == 2 and ckpt["config"]["batch_size"] == 4
    assert not list(out.glob("*.tmp"))


def test_resume_refuses_checkpoint_of_another_model(recipe_file, tmp_path):
    from posekit.core.errors import CheckpointError
    from posekit.engine.checkpoint import save_checkpoint

    (tmp_path / "c").mkdir()
    save_checkpoint(tmp_path / "c" / "last.pt", model="rtmpose-s", state_dict={})
    with pytest.raises(CheckpointError, match="rtmpose-s"):
        Trainer(load_recipe(recipe_file, [f"out={tmp_path}/c"]), resume=True, quiet=True)
