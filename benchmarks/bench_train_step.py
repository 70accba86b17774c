"""Training-step time in float32 and bfloat16 autocast (recipe `amp: bf16`), each with the default
layout and with NHWC weights and images (`channels_last: true`), on CPU; on CUDA float16 autocast
(`amp: true`) too.

    python benchmarks/bench_train_step.py [--recipes configs/synth/rtmpose-t.yaml ...] [--repeats 10] [--threads N]
    python benchmarks/bench_train_step.py --recipes configs/synth/{yolov8-pose-n,erpose-n,rtmo-s,yoloxpose-s,rtmdet-person-nano}.yaml \
        --repeats 8 --results train_step_layout_onestage
    python benchmarks/bench_train_step.py --device cuda --set data.train=runs/synth/train64 data.synth_images=64 \
        batch_size=128 --results train_step_layout_cuda_b128
    python benchmarks/bench_train_step.py --arms depthwise --threads 1 --repeats 12 --set batch_size=16 \
        data.train=benchmarks/runs/synth/train6k data.val=benchmarks/runs/synth/val --results train_step_depthwise_grad

For each recipe, one Trainer per arm (same seed) runs `Trainer.train_step` on the same batch from
the recipe's own loader, the arms in turn after a warm-up; reports the median seconds per step of
each and each arm's speed-up over the first arm. The synthetic sets are made on first use.
`--arms depthwise` compares the bf16 channels-last step as posekit runs it (depthwise convs take their
weight gradient in float32: `posekit.nn.conv.DepthwiseConv2d`) with plain nn.Conv2d depthwise convs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import command_line, header

ROOT = Path(__file__).resolve().parents[1]
ARMS = {"float32": ["amp=false", "channels_last=false"], "float32_channels_last": ["amp=false", "channels_last=true"],
        "bf16": ["amp=bf16", "channels_last=false"], "bf16_channels_last": ["amp=bf16", "channels_last=true"]}
CUDA_ARMS = ARMS | {"float16": ["amp=true", "channels_last=false"], "float16_channels_last": ["amp=true", "channels_last=true"]}
DEPTHWISE_ARMS = {"bf16_channels_last_plain_depthwise": ARMS["bf16_channels_last"],
                  "bf16_channels_last": ARMS["bf16_channels_last"]}


def plain_depthwise(model: torch.nn.Module) -> None:
    """Turn posekit's DepthwiseConv2d back into nn.Conv2d (same parameters): bfloat16 weight gradients."""
    from posekit.nn.conv import DepthwiseConv2d

    for module in model.modules():
        if isinstance(module, DepthwiseConv2d):
            module.__class__ = torch.nn.Conv2d


def step_times(recipe_path: str, repeats: int, out: Path, device: str, extra: list[str], arms: dict) -> dict:
    from posekit.engine.recipe import load_recipe
    from posekit.engine.trainer import Trainer

    recipes = {arm: load_recipe(ROOT / recipe_path, overrides + extra + [f"out={out / arm}", "data.workers=0",
                                                                         f"device={device}"])
               for arm, overrides in arms.items()}
    trainers = {arm: Trainer(recipe, quiet=True) for arm, recipe in recipes.items()}
    if "bf16_channels_last_plain_depthwise" in trainers:
        plain_depthwise(trainers["bf16_channels_last_plain_depthwise"].model)
    first = next(iter(arms))
    loader = trainers[first].task.train_loader(0)
    for trainer in trainers.values():
        trainer.steps_per_epoch = len(loader)
    images, targets = next(iter(loader))
    times: dict[str, list[float]] = {arm: [] for arm in arms}
    for round_ in range(repeats + 1):
        for arm, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step(images, targets)  # returns the losses as floats: CUDA has finished
            if round_:
                times[arm].append(time.perf_counter() - start)
    medians = {arm: round(statistics.median(t), 4) for arm, t in times.items()}
    return {"model": recipes[first].model, "batch": len(images), "input": list(images.shape[-2:]),
            "seconds_per_step": medians,
            f"speedup_over_{first}": {arm: round(medians[first] / m, 3) for arm, m in medians.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", nargs="+", default=["configs/synth/rtmpose-t.yaml",
                                                         "configs/synth/cspnext-t-udp.yaml"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--arms", default="layout", choices=["layout", "depthwise"])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="recipe overrides for every arm")
    parser.add_argument("--results", default="train_step_layout", help="report file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    arms = DEPTHWISE_ARMS if args.arms == "depthwise" else CUDA_ARMS if args.device == "cuda" else ARMS
    info = header(f"training step on {args.device}: {', '.join(arms)}")
    if args.device == "cuda":
        info["gpu"] = torch.cuda.get_device_name()
        print(f"# gpu: {info['gpu']}")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [step_times(r, args.repeats, Path(tmp) / str(i), args.device, args.set, arms)
                for i, r in enumerate(args.recipes)]
    for row in rows:
        print(json.dumps(row))
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    report = {"command": command_line(), "machine": info, "rows": rows}
    (ROOT / f"benchmarks/results/{args.results}.json").write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
