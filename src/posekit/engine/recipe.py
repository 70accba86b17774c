"""Training recipes: a model name plus a small YAML of overrides, at most one level of `base:`.

    model: rtmpose-t
    data: {train: runs/synth/train, val: runs/synth/val}
    epochs: 30
    optimizer: {name: adamw, lr: 4.0e-3, weight_decay: 0.0}

`--set key=value` (dotted keys, YAML values) overrides any field. Unknown keys are an error.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from posekit.core.errors import ConfigError


@dataclass
class DataConfig:
    train: str = ""
    val: str = ""
    skeleton: str = "coco"
    workers: int = 2
    synth_images: int = 0          # >0: generate this many synthetic training images if `train` is missing
    synth_val_images: int = 0
    synth_seed: int = 0
    synth_size: int = 640
    shard_images: bool = False     # under torchrun: image i only in process i % world, which caches only its share


@dataclass
class OptimConfig:
    name: str = "adamw"            # adamw | sgd
    lr: float = 4e-3
    weight_decay: float = 0.0
    momentum: float = 0.9          # sgd only
    no_decay_norm_bias: bool = True


@dataclass
class ScheduleConfig:
    warmup_iters: int = 200
    warmup_start_factor: float = 1e-3
    min_lr_ratio: float = 0.05     # cosine ends at lr * min_lr_ratio


@dataclass
class AugmentConfig:
    flip: float = 0.5
    scale: tuple[float, float] = (0.75, 1.25)
    rotate: float = 30.0
    rotate_prob: float = 0.6
    shift: float = 0.0             # top-down: crop-centre jitter, fraction of the box
    shift_prob: float = 0.3
    hsv: tuple[float, float, float] = (0.015, 0.7, 0.4)
    mosaic: float = 0.0            # whole-image models: probability of a 4-image mosaic
    translate: float = 0.1         # whole-image models: random affine shift, fraction of the size


@dataclass
class PretrainedConfig:
    checkpoint: str = ""           # path or URL of a checkpoint whose tensors initialise part of the model
    prefix: str = "backbone."      # which part: the keys under this prefix (MMPose's init_cfg prefix)


@dataclass
class Recipe:
    model: str = ""
    model_args: dict = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimConfig = field(default_factory=OptimConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    pretrained: PretrainedConfig = field(default_factory=PretrainedConfig)
    freeze: tuple[str, ...] = ()   # submodules whose weights stay as loaded, e.g. [backbone.stem]
    epochs: int = 10
    batch_size: int = 32
    val_interval: int = 1
    val_batch_size: int = 64
    ema: bool = False
    ema_momentum: float = 2e-4
    ema_gamma: float = 2000.0      # steps over which the EMA's momentum decays to ema_momentum
    clip_grad: float = 0.0         # max grad norm; 0 = off
    amp: bool | str = True         # true: float16 on CUDA only; "bf16": bfloat16 on CPU or CUDA; false: off
    channels_last: bool = False    # NHWC weights and images (faster on CPU: DEVELOPERS.md)
    seed: int = 0
    time_budget_min: float = 0.0   # >0: stop after this many minutes (CPU benchmarks)
    out: str = ""                  # default runs/<model>
    device: str = "auto"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


_SECTIONS = {cls.__name__: cls for cls in (DataConfig, OptimConfig, ScheduleConfig, AugmentConfig, PretrainedConfig)}


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _build(cls, values: dict, where: str):
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise ConfigError(f"unknown recipe key(s) {', '.join(f'{where}.{k}'.lstrip('.') for k in unknown)}: "
                          f"allowed under {where or 'the top level'}: {', '.join(sorted(fields))}")
    kwargs = {}
    for name, value in values.items():
        kind = fields[name].type
        sub = _SECTIONS.get(kind if isinstance(kind, str) else getattr(kind, "__name__", ""))
        key = f"{where}.{name}".lstrip(".")
        if sub is not None:
            value = _build(sub, value, key)
        else:
            value = _typed(value, kind if isinstance(kind, str) else kind.__name__, key)
        kwargs[name] = value
    return cls(**kwargs)


_KINDS = {  # annotation -> (accepted YAML types, an example for the error message)
    "float": ((int, float), "0.001"), "int": ((int,), "10"), "bool": ((bool,), "true"),
    "str": ((str,), "name"), "dict": ((dict,), "{}"), "tuple": ((list, tuple), "[0.5, 1.5]"),
}


def _typed(value, kind: str, key: str):
    """`value` checked against a field's annotation. Numbers written as 1e-3 arrive as strings (YAML 1.1
    wants 1.0e-3), so a float field takes any string that float() reads; `key=` (None) empties a string."""
    if kind == "str" and value is None:
        return ""
    if kind == "float" and isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    known = _KINDS.get("tuple" if kind.startswith("tuple") else kind)
    if known is None:  # a union such as amp's `bool | str`: the consumer checks it
        return value
    expected, example = known
    if not isinstance(value, expected) or (isinstance(value, bool) and bool not in expected):
        raise ConfigError(f"recipe key {key} must be {kind}, got {value!r}: write e.g. {key}={example}")
    if kind == "float":
        if not math.isfinite(value):
            raise ConfigError(f"recipe key {key} is {value}: give a finite number, e.g. {key}={example}")
        return float(value)
    return tuple(value) if isinstance(value, list) else value


def parse_overrides(pairs: list[str]) -> dict:
    """['optimizer.lr=0.001', 'epochs=3'] -> nested dict with YAML-typed values."""
    out: dict = {}
    for pair in pairs or []:
        if "=" not in pair:
            raise ConfigError(f"--set '{pair}' is not key=value: write e.g. --set epochs=5")
        key, raw = pair.split("=", 1)
        node = out
        *parents, leaf = key.strip().split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(raw)
    return out


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise ConfigError(f"recipe {path} does not exist: check the path (recipes live in configs/)")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"recipe {path} is not valid YAML: {e}".replace("\n", " ")) from None
    if not isinstance(values, dict):
        raise ConfigError(f"recipe {path} must be a mapping of keys to values")
    return values


def load_recipe(path: str | Path, overrides: list[str] | dict | None = None) -> Recipe:
    path = Path(path)
    values = _read_yaml(path)
    if "base" in values:
        base_path = path.parent / values.pop("base")
        base = _read_yaml(base_path)
        if "base" in base:
            raise ConfigError(f"{base_path} has its own 'base:': recipes allow one level of base only")
        values = _merge(base, values)
    extra = overrides if isinstance(overrides, dict) else parse_overrides(overrides or [])
    recipe = _build(Recipe, _merge(values, extra), "")
    if not recipe.model:
        raise ConfigError(f"recipe {path} names no model: add 'model: <name>' (see `posekit models`)")
    return recipe
