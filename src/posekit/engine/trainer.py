"""One training loop for every model family.

The model supplies `forward` and `loss` (named terms, summed here); a task (see `engine.tasks`)
supplies the training batches and the validation metric for the model's paradigm. The Trainer owns
everything else: optimiser and schedule, EMA, AMP, gradient clipping, progress, the metrics log and
its curves, atomic best/last checkpoints, and exact resume at epoch boundaries. Under torchrun it
trains data-parallel (`engine.distributed`): the main process alone validates, logs and writes.

Augmentation draws its randomness from (seed, epoch, sample index), never from global state, so an
epoch's batches are the same whether it runs straight through or after a resume.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from posekit.core.errors import CheckpointError, ConfigError
from posekit.engine import distributed
from posekit.engine.checkpoint import load_pretrained, read_checkpoint, save_checkpoint
from posekit.engine.curves import plot_curves
from posekit.engine.ema import ModelEMA
from posekit.engine.recipe import Recipe
from posekit.engine.weights import resolve_weights
from posekit.models import create_model


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def autocast_dtype(amp, device: torch.device) -> torch.dtype | None:
    """The recipe's `amp` on this device: True = float16 on CUDA (off on CPU), "bf16" = bfloat16 on
    either (1.6x faster training steps on this AMX Xeon: benchmarks/bench_train_step.py), False = off."""
    if amp == "bf16":
        return torch.bfloat16
    if amp is True:
        return torch.float16 if device.type == "cuda" else None
    if amp is False:
        return None
    raise ConfigError(f"amp: {amp!r} is not a choice: use true (float16 on CUDA), bf16 or false")


def build_optimizer(model: torch.nn.Module, cfg) -> torch.optim.Optimizer:
    """AdamW or SGD; norm weights and biases get no weight decay (MMPose's paramwise_cfg)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if cfg.no_decay_norm_bias and (p.ndim <= 1 or name.endswith(".bias")) else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=True)
    raise ConfigError(f"unknown optimizer '{cfg.name}': use adamw or sgd")


def freeze(model: torch.nn.Module, names: tuple[str, ...]) -> None:
    """Stop the weights of the named submodules from learning (MMDet's frozen_stages, by name).

    They leave the optimiser and get no gradients (backward ends early when they come first).
    BatchNorm statistics inside them still follow the data, which may differ from the data they
    were loaded from.
    """
    modules = dict(model.named_modules())
    for name in names:
        if not name or name not in modules:
            children = ", ".join(n for n, _ in model.named_children())
            raise ConfigError(f"freeze: the model has no submodule '{name}': name one by its path, "
                              f"e.g. under {children}")
        modules[name].requires_grad_(False)


def lr_factor(step: int, total: int, cfg, time_fraction: float = 0.0) -> float:
    """Linear warm-up from `warmup_start_factor`, then cosine down to `min_lr_ratio`.

    With a time budget, `time_fraction` (elapsed / budget) advances the cosine too, so a run that
    the clock cuts short still ends at the bottom of its schedule.
    """
    if step < cfg.warmup_iters:
        return cfg.warmup_start_factor + (1 - cfg.warmup_start_factor) * step / max(cfg.warmup_iters, 1)
    progress = min(max((step - cfg.warmup_iters) / max(total - cfg.warmup_iters, 1), time_fraction), 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


class Trainer:
    def __init__(self, recipe: Recipe, resume: bool = False, quiet: bool = False):
        from posekit.engine.tasks import build_task

        self.recipe = recipe
        self.quiet = quiet
        self.out = Path(recipe.out or f"runs/{recipe.model}")
        self.device = distributed.init_from_env(resolve_device(recipe.device))
        seed_everything(recipe.seed)
        self.model = create_model(recipe.model, **recipe.model_args).to(self.device)
        if recipe.pretrained.checkpoint and not resume:
            self._load_pretrained()
        freeze(self.model, recipe.freeze)
        self.memory_format = torch.channels_last if recipe.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.memory_format)
        with distributed.main_first():  # one process makes a missing synthetic set
            self.task = build_task(self.model, recipe)
        self.train_model = distributed.wrap(self.model, self.device)
        self.optimizer = build_optimizer(self.model, recipe.optimizer)
        self.ema = ModelEMA(self.model, recipe.ema_momentum, recipe.ema_gamma) if recipe.ema else None
        self.amp_dtype = autocast_dtype(recipe.amp, self.device)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.epoch, self.step, self.best = 0, 0, -math.inf
        self.records: list[dict] = []
        self.started = time.monotonic()
        self.elapsed_s = 0.0  # the same in every process: the slowest one's clock
        if resume:
            self._resume()

    # ---- checkpoints -------------------------------------------------------------------------
    def _payload(self) -> dict:
        return {
            "model": self.recipe.model, "config": self.recipe.to_dict(), "epoch": self.epoch,
            "step": self.step, "best": self.best, "state_dict": self.model.state_dict(),
            "ema_state_dict": self.ema.module.state_dict() if self.ema else None,
            "ema_steps": self.ema.steps if self.ema else 0,
            "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }

    def _load_pretrained(self) -> None:
        spec = self.recipe.pretrained
        count = load_pretrained(self.model, resolve_weights(spec.checkpoint), spec.prefix)
        if not self.quiet and distributed.is_main():
            print(f"initialised {count} tensors under '{spec.prefix}' from {spec.checkpoint}", flush=True)

    def _resume(self) -> None:
        path = self.out / "last.pt"
        ckpt = read_checkpoint(path)
        if ckpt.get("model") != self.recipe.model:
            raise CheckpointError(f"{path} was trained as '{ckpt.get('model')}', not '{self.recipe.model}': "
                                  f"point --set out=... at that model's run directory")
        self.model.load_state_dict(ckpt["state_dict"])
        if self.ema and ckpt.get("ema_state_dict") is not None:
            self.ema.module.load_state_dict(ckpt["ema_state_dict"])
            self.ema.steps = ckpt["ema_steps"]
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch, self.step, self.best = ckpt["epoch"], ckpt["step"], ckpt["best"]
        torch.set_rng_state(ckpt["torch_rng"])
        log = self.out / "metrics.jsonl"
        if log.is_file():
            self.records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]

    def save(self, name: str) -> Path:
        path = self.out / name
        if distributed.is_main():
            save_checkpoint(path, **self._payload())
        return path

    # ---- loop --------------------------------------------------------------------------------
    @property
    def total_steps(self) -> int:
        return self.recipe.epochs * self.steps_per_epoch

    def _out_of_time(self) -> bool:
        budget = self.recipe.time_budget_min
        return budget > 0 and self.elapsed_s > budget * 60

    def fit(self, until_epoch: int | None = None) -> dict:
        """Train to the recipe's last epoch (or `until_epoch`, as if interrupted there)."""
        self.out.mkdir(parents=True, exist_ok=True)
        loader_for_epoch = self.task.train_loader
        self.steps_per_epoch = len(loader_for_epoch(0))
        metrics: dict = {}
        end = min(self.recipe.epochs, until_epoch or self.recipe.epochs)
        while self.epoch < end and not self._out_of_time():
            self._train_epoch(loader_for_epoch(self.epoch))
            self.epoch += 1
            last_epoch = self.epoch == self.recipe.epochs or self._out_of_time()
            if self.task.can_evaluate and (self.epoch % self.recipe.val_interval == 0 or last_epoch) \
                    and distributed.is_main():
                metrics = self.validate()
                if metrics.get(self.task.primary_metric, -math.inf) > self.best:
                    self.best = metrics[self.task.primary_metric]
                    self.save("best.pt")
            self.save("last.pt")
            if distributed.is_main():
                plot_curves(self.records, self.out / "curves.png")
        distributed.barrier()  # the checkpoints exist before any process returns
        return metrics

    def _train_epoch(self, loader) -> None:
        self.model.train()
        totals: dict[str, float] = {}
        bar = tqdm(loader, desc=f"epoch {self.epoch + 1}/{self.recipe.epochs}",
                   disable=self.quiet or not distributed.is_main(),
                   dynamic_ncols=True, leave=False)
        for i, (images, targets) in enumerate(bar):
            losses = self.train_step(images, targets)
            for k, v in losses.items():
                totals[k] = totals.get(k, 0.0) + v
            bar.set_postfix({k: f"{v:.4f}" for k, v in losses.items()})
            if self._out_of_time():
                break
        n = max(i + 1, 1)
        self._log({"kind": "train", "epoch": self.epoch + 1, "step": self.step,
                   "lr": self.optimizer.param_groups[0]["lr"], "time_s": round(self.elapsed_s, 1),
                   **{k: v / n for k, v in totals.items()}})

    def train_step(self, images: torch.Tensor, targets) -> dict[str, float]:
        # Every process must take the same learning rate and stop at the same step.
        self.elapsed_s = distributed.reduce_float(time.monotonic() - self.started)
        budget = self.recipe.time_budget_min * 60
        factor = lr_factor(self.step, self.total_steps, self.recipe.schedule,
                           self.elapsed_s / budget if budget > 0 else 0.0)
        for group in self.optimizer.param_groups:
            group["lr"] = self.recipe.optimizer.lr * factor
        images = images.to(self.device, non_blocking=True, memory_format=self.memory_format)
        targets = _map_tensors(targets, lambda t: t.to(self.device, non_blocking=True))
        with torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None):
            outputs = self.train_model(images)
        terms = self.model.loss(_map_tensors(outputs, _as_float32), targets)
        loss = sum(terms.values())
        if not torch.isfinite(loss):
            raise FloatingPointError(f"loss became {loss.item()} at step {self.step}: lower the learning "
                                     f"rate or enable clip_grad")
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.recipe.clip_grad > 0:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.recipe.clip_grad)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        if self.ema:
            self.ema.update(self.model)
        self.step += 1
        return {k: float(v.detach()) for k, v in terms.items()} | {"loss": float(loss.detach())}

    def eval_model(self) -> torch.nn.Module:
        return (self.ema.module if self.ema else self.model).eval()

    @torch.no_grad()
    def validate(self) -> dict:
        metrics = self.task.evaluate(self.eval_model(), self.device)
        self._log({"kind": "val", "epoch": self.epoch, "step": self.step,
                   **{f"val/{k}": v for k, v in metrics.items()}})
        if not self.quiet:
            print(f"epoch {self.epoch}: " + "  ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)
        return metrics

    def _log(self, record: dict) -> None:
        if not distributed.is_main():
            return
        self.records.append(record)
        with open(self.out / "metrics.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")


def _map_tensors(tree, fn):
    """`fn` applied to every tensor in nested dicts, lists and tuples."""
    if isinstance(tree, torch.Tensor):
        return fn(tree)
    if isinstance(tree, dict):
        return {k: _map_tensors(v, fn) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return type(tree)(_map_tensors(v, fn) for v in tree)
    return tree


def _as_float32(t: torch.Tensor) -> torch.Tensor:
    return t.float() if t.is_floating_point() else t
