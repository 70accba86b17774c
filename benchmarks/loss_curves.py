"""Training-loss curves of one recipe under several settings (arms): what chose the learning rates
of the synthetic recipes.

    python benchmarks/loss_curves.py --recipe configs/synth/rtmpose-t.yaml --steps 600 \\
        --set pretrained.checkpoint=runs/bench_topdown_v2/cspnext-t-udp/last.pt \\
        --arm lr2e-3:optimizer.lr=0.002 --arm lr5e-4:optimizer.lr=0.0005 --arm fp32-lr5e-4:optimizer.lr=0.0005,amp=false

Each arm is a fresh Trainer with the recipe's seed, the `--set` overrides and its own, trained for
`--steps` steps; the report gives the mean loss over each window of `--every` steps and the largest
gradient norm in it (a spike there is what knocks a model back). The schedule is the recipe's, so its
warm-up applies. Arms run one after another: a loss curve does not depend on the clock.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]


def grad_norm(model: torch.nn.Module) -> float:
    norms = [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def curve(recipe_path: str, overrides: list[str], steps: int, every: int) -> dict:
    from posekit.engine.recipe import load_recipe
    from posekit.engine.trainer import Trainer

    with tempfile.TemporaryDirectory() as out:
        recipe = load_recipe(ROOT / recipe_path, overrides + [f"out={out}"])
        trainer = Trainer(recipe, quiet=True)
        trainer.steps_per_epoch = len(trainer.task.train_loader(0))
        losses, norms, start, epoch = [], [], time.perf_counter(), 0
        while len(losses) < steps:
            for images, targets in trainer.task.train_loader(epoch):
                losses.append(trainer.train_step(images, targets)["loss"])
                norms.append(grad_norm(trainer.model))
                if len(losses) == steps:
                    break
            epoch += 1
    windows = range(0, steps - every + 1, every)
    return {"overrides": overrides, "seconds": round(time.perf_counter() - start, 1),
            "window_end_step": [w + every for w in windows],
            "mean_loss": [round(sum(losses[w:w + every]) / every, 5) for w in windows],
            "max_grad_norm": [round(max(norms[w:w + every]), 3) for w in windows]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipe", required=True)
    parser.add_argument("--arm", action="append", required=True, metavar="NAME:KEY=VALUE[,KEY=VALUE]",
                        help="one setting to compare; repeat for each")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for every arm")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--every", type=int, default=50)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--results", default="loss_curves", help="report file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.every < 1 or args.steps < args.every:
        parser.error("--steps must be at least --every, and --every at least 1")
    info = header(f"loss curves of {args.recipe}")
    arms = {}
    for spec in args.arm:
        name, _, settings = spec.partition(":")
        arms[name] = curve(args.recipe, args.set + [s for s in settings.split(",") if s], args.steps, args.every)
        print(name, json.dumps(arms[name]), flush=True)
    result = {"machine": info, "recipe": args.recipe, "steps": args.steps, "arms": arms}
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / f"benchmarks/results/{args.results}.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
