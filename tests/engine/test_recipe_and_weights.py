import pytest
import torch

from posekit.core.errors import CheckpointError, ConfigError
from posekit.engine.checkpoint import load_weights, save_checkpoint
from posekit.engine.recipe import load_recipe, parse_overrides
from posekit.engine.trainer import lr_factor
from posekit.engine.recipe import ScheduleConfig
from posekit.engine.weights import resolve_weights


def test_recipe_base_and_overrides(tmp_path):
    (tmp_path / "base.yaml").write_text("model: rtmpose-t\nepochs: 3\noptimizer: {lr: 0.01, weight_decay: 0.05}\n")
    (tmp_path / "r.yaml").write_text("base: base.yaml\nepochs: 7\noptimizer: {lr: 0.002}\n")
    r = load_recipe(tmp_path / "r.yaml", ["batch_size=4", "data.train=/x", "augment.scale=[0.5, 1.5]"])
    assert (r.model, r.epochs, r.batch_size) == ("rtmpose-t", 7, 4)
    assert r.optimizer.lr == 0.002 and r.optimizer.weight_decay == 0.05
    assert r.data.train == "/x" and r.augment.scale == (0.5, 1.5)


@pytest.mark.parametrize("text, message", [
    ("model: rtmpose-t\nepoch: 3\n", "epoch"),
    ("model: rtmpose-t\noptimizer: {lr: 1, betas: 2}\n", "optimizer.betas"),
    ("epochs: 3\n", "names no model"),
    ("model: [unclosed\n", "not valid YAML"),
    ("model: rtmpose-t\noptimizer: {lr: fast}\n", "optimizer.lr must be float"),
    ("model: rtmpose-t\nepochs: 2.5\n", "epochs must be int"),
    ("model: rtmpose-t\noptimizer: {lr: .nan}\n", "optimizer.lr is nan"),
    ("model: rtmpose-t\nclip_grad: inf\n", "clip_grad is inf"),
    ("model: rtmpose-t\nepochs: true\n", "epochs must be int"),
    ("model: rtmpose-t\nema: 1\n", "ema must be bool"),
    ("model: rtmpose-t\naugment: {scale: 3}\n", "augment.scale must be tuple"),
])
def test_recipe_errors_name_the_problem(tmp_path, text, message):
    (tmp_path / "r.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message.replace("[", r"\[")):
        load_recipe(tmp_path / "r.yaml")


def test_recipe_reads_exponent_floats_that_yaml_leaves_as_strings(tmp_path):
    (tmp_path / "r.yaml").write_text("model: rtmpose-t\noptimizer: {lr: 1e-3}\n")
    r = load_recipe(tmp_path / "r.yaml", ["clip_grad=1e1", "optimizer.weight_decay=5", "pretrained.checkpoint=",
                                              "amp=false"])
    assert r.pretrained.checkpoint == "" and r.amp is False
    assert r.optimizer.lr == 0.001 and r.clip_grad == 10.0 and r.optimizer.weight_decay == 5.0
    assert all(type(v) is float for v in (r.optimizer.lr, r.clip_grad, r.optimizer.weight_decay))


def test_recipe_two_levels_of_base_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("model: x\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    (tmp_path / "c.yaml").write_text("base: b.yaml\n")
    with pytest.raises(ConfigError, match="one level"):
        load_recipe(tmp_path / "c.yaml")


def test_parse_overrides_types():
    assert parse_overrides(["a.b=3", "c=true", "d=x"]) == {"a": {"b": 3}, "c": True, "d": "x"}
    with pytest.raises(ConfigError):
        parse_overrides(["nokey"])


def test_lr_schedule_warmup_then_cosine():
    cfg = ScheduleConfig(warmup_iters=10, warmup_start_factor=0.1, min_lr_ratio=0.05)
    assert lr_factor(0, 100, cfg) == pytest.approx(0.1)
    assert lr_factor(10, 100, cfg) == pytest.approx(1.0)
    assert lr_factor(100, 100, cfg) == pytest.approx(0.05)
    values = [lr_factor(s, 100, cfg) for s in range(10, 101)]
    assert all(a >= b for a, b in zip(values, values[1:]))
    # a time budget that runs out first takes the schedule to its end anyway
    assert lr_factor(20, 100, cfg, time_fraction=1.0) == pytest.approx(0.05)
    assert lr_factor(20, 100, cfg, time_fraction=0.0) == pytest.approx(lr_factor(20, 100, cfg))


def _model():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))


def test_load_weights_refuses_other_model_and_shape(tmp_path):
    m = _model()
    save_checkpoint(tmp_path / "a.pt", model="rtmpose-t", state_dict=m.state_dict())
    load_weights(_model(), tmp_path / "a.pt", "rtmpose-t")
    with pytest.raises(CheckpointError, match="holds 'rtmpose-t'"):
        load_weights(_model(), tmp_path / "a.pt", "rtmpose-m")
    other = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3), torch.nn.BatchNorm2d(5))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_weights(other, tmp_path / "a.pt")
    with pytest.raises(CheckpointError, match="does not fit"):
        load_weights(torch.nn.Sequential(torch.nn.Linear(2, 2)), tmp_path / "a.pt")
    (tmp_path / "bad.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot be read"):
        load_weights(_model(), tmp_path / "bad.pt")


def test_resolve_weights_downloads_once_into_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("POSEKIT_CACHE", str(tmp_path / "cache"))
    src = tmp_path / "w.pth"
    src.write_bytes(b"abc")
    got = resolve_weights(src.as_uri())
    assert got == tmp_path / "cache" / "w.pth" and got.read_bytes() == b"abc"
    src.unlink()  # second call must use the cache, not the source
    assert resolve_weights(src.as_uri()).read_bytes() == b"abc"
    with pytest.raises(CheckpointError, match="download it by hand"):
        resolve_weights((tmp_path / "missing.pth").as_uri())
    with pytest.raises(CheckpointError, match="does not exist"):
        resolve_weights(tmp_path / "nope.pt")
