"""The Trainer end to end on a tiny synthetic set: logs, checkpoints, curves, exact resume."""

import json

import pytest
import torch

from posekit.engine.pipeline import layout_of
from posekit.engine.recipe import load_recipe
from posekit.engine.trainer import Trainer


@pytest.fixture(scope="module")
def recipe_file(tmp_path_factory, write_tiny_recipe):
    return write_tiny_recipe(tmp_path_factory.mktemp("tiny"), "ema: true\n")


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


def test_pretrained_backbone_initialises_the_model_and_leaves_the_head(recipe_file, tmp_path):
    from posekit.engine.checkpoint import save_checkpoint
    from posekit.models import create_model

    heatmap = create_model("cspnext-t-udp", widen=0.125, input_size=(32, 32))
    save_checkpoint(tmp_path / "hm.pt", model="cspnext-t-udp", state_dict=heatmap.state_dict())
    fresh = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/f"]), quiet=True)
    inited = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/p", f"pretrained.checkpoint={tmp_path}/hm.pt"]),
                     quiet=True)
    source = heatmap.state_dict()
    for k, v in inited.model.state_dict().items():
        if k.startswith("backbone.") and v.is_floating_point():
            assert torch.equal(v, source[k]), k
    moved = [k for k, v in fresh.model.backbone.state_dict().items()
             if v.is_floating_point() and not torch.equal(v, source["backbone." + k])]
    assert moved  # the seeded fresh backbone differs, so the loading above did something
    head = fresh.model.head.state_dict()
    assert all(torch.equal(v, head[k]) for k, v in inited.model.head.state_dict().items())


def test_pretrained_checkpoint_of_another_architecture_is_refused(recipe_file, tmp_path):
    from posekit.core.errors import CheckpointError
    from posekit.engine.checkpoint import save_checkpoint
    from posekit.models import create_model

    other = create_model("cspnext-t-udp", widen=0.25, input_size=(32, 32))  # wider: shapes differ
    save_checkpoint(tmp_path / "wide.pt", model="cspnext-t-udp", state_dict=other.state_dict())
    with pytest.raises(CheckpointError, match="another shape"):
        Trainer(load_recipe(recipe_file, [f"out={tmp_path}/w", f"pretrained.checkpoint={tmp_path}/wide.pt"]),
                quiet=True)
    with pytest.raises(CheckpointError, match="tensors missing"):
        Trainer(load_recipe(recipe_file, [f"out={tmp_path}/w", f"pretrained.checkpoint={tmp_path}/wide.pt",
                                          "pretrained.prefix=head."]), quiet=True)


def test_bf16_amp_runs_the_forward_in_bfloat16_and_the_loss_in_float32(recipe_file, tmp_path):
    # One step, not fit(): on an AMD EPYC (AVX512-BF16, no AMX) the bf16 weight gradient of this tiny
    # model's 7x7 head conv came out non-finite in about half of the runs of the same step with the
    # same inputs (a nondeterministic CPU kernel; full-size models trained for 30 minutes were fine),
    # which later steps turn into a NaN loss. This test is about dtypes.
    trainer = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/bf16", "amp=bf16", "epochs=1"]), quiet=True)
    trainer.steps_per_epoch = 1
    before = _state(trainer)
    outputs, losses = [], []
    trainer.model.register_forward_hook(lambda module, inputs, output: outputs.append(output))
    loss_fn = trainer.model.loss
    trainer.model.loss = lambda out, targets: losses.append(loss_fn(out, targets)) or losses[-1]
    trainer.train_step(*next(iter(trainer.task.train_loader(0))))
    assert outputs and all(o.dtype == torch.bfloat16 for o in outputs[0])
    assert losses and all(v.dtype == torch.float32 and torch.isfinite(v) for terms in losses for v in terms.values())
    after = _state(trainer)
    assert all(v.dtype == before[k].dtype for k, v in after.items())
    assert any(not torch.equal(before[k], after[k]) for k in before if before[k].is_floating_point())


def test_channels_last_trains_nhwc_to_the_same_step_as_the_default_layout(recipe_file, tmp_path):
    trainers = {fmt: Trainer(load_recipe(recipe_file, [f"out={tmp_path}/{fmt}", f"channels_last={fmt}", "amp=false"]),
                             quiet=True) for fmt in ("false", "true")}
    assert layout_of(trainers["true"].model) == torch.channels_last
    seen = []
    trainers["true"].model.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    batch = next(iter(trainers["false"].task.train_loader(0)))
    losses = {}
    for fmt, trainer in trainers.items():
        trainer.steps_per_epoch = 1
        losses[fmt] = trainer.train_step(*batch)["loss"]
    assert seen[0].is_contiguous(memory_format=torch.channels_last) and not seen[0].is_contiguous()
    assert losses["true"] == pytest.approx(losses["false"], rel=1e-4)
    default, nhwc = _state(trainers["false"]), _state(trainers["true"])
    assert all(torch.allclose(default[k], nhwc[k], atol=1e-5) for k in default if default[k].is_floating_point())


@pytest.mark.parametrize("channels_last", [False, True])
def test_validation_gives_the_model_back_in_its_memory_layout(recipe_file, tmp_path, channels_last):
    # The CPU pipelines run NHWC; the model under training must not change layout behind the Trainer.
    trainer = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/v", f"channels_last={channels_last}", "ema=false"]),
                      quiet=True)
    (tmp_path / "v").mkdir()
    layouts = lambda: {n: p.is_contiguous() for n, p in trainer.model.named_parameters()}  # noqa: E731
    before = layouts()
    assert "AP" in trainer.validate()
    assert layouts() == before
    assert any(not contiguous for contiguous in before.values()) == channels_last


@pytest.mark.parametrize("amp", ["fp8", 16])
def test_unknown_amp_setting_is_refused(recipe_file, tmp_path, amp):
    from posekit.core.errors import ConfigError

    with pytest.raises(ConfigError, match="amp"):
        Trainer(load_recipe(recipe_file, [f"out={tmp_path}/x", f"amp={amp}"]), quiet=True)


def test_frozen_submodules_keep_their_weights_while_the_rest_learns(recipe_file, tmp_path):
    trainer = Trainer(load_recipe(recipe_file, [f"out={tmp_path}/fz", "epochs=1",
                                                "freeze=[backbone.stem, backbone.stage1]"]), quiet=True)
    before = {k: v.clone() for k, v in trainer.model.named_parameters()}
    trainer.fit()
    changed = {k for k, v in trainer.model.named_parameters() if not torch.equal(v, before[k])}
    frozen = {k for k in before if k.startswith(("backbone.stem.", "backbone.stage1."))}
    assert frozen and not changed & frozen
    assert any(k.startswith("backbone.stage2.") for k in changed) and any(k.startswith("head.") for k in changed)
    in_optimizer = {id(p) for group in trainer.optimizer.param_groups for p in group["params"]}
    assert not any(id(p) in in_optimizer for k, p in trainer.model.named_parameters() if k in frozen)


def test_freezing_a_submodule_the_model_lacks_is_refused(recipe_file, tmp_path):
    from posekit.core.errors import ConfigError

    with pytest.raises(ConfigError, match="no submodule 'backbone.stage9'"):
        Trainer(load_recipe(recipe_file, [f"out={tmp_path}/x", "freeze=[backbone.stage9]"]), quiet=True)


def test_a_synthetic_set_of_another_size_is_refused_and_a_users_set_is_left_alone(tmp_path):
    from posekit.core.errors import ConfigError
    from posekit.engine.tasks import ensure_synthetic

    root = tmp_path / "train"
    ensure_synthetic(str(root), 3, 0, 64)
    annotations = root / "annotations.json"
    made = annotations.read_text()
    assert len(json.loads(made)["images"]) == 3
    ensure_synthetic(str(root), 3, 0, 64)  # the same set: kept as it is
    assert annotations.read_text() == made
    for images, seed, size in ((4, 0, 64), (3, 1, 64), (3, 0, 96)):
        with pytest.raises(ConfigError, match=r"holds a synthetic set of 3 images .* set data.train"):
            ensure_synthetic(str(root), images, seed, size)
    data = json.loads(made)
    del data["info"]
    annotations.write_text(json.dumps(data))
    ensure_synthetic(str(root), 4, 0, 64)  # not made by the generator: the user's to size
    assert json.loads(annotations.read_text()) == data
