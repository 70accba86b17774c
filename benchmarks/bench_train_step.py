"""Training-step time in float32 against bfloat16 autocast (recipe `amp: bf16`), on CPU.

    python benchmarks/bench_train_step.py [--recipes configs/synth/rtmpose-t.yaml ...] [--repeats 10] [--threads N]

For each recipe, two Trainers (amp false and bf16, same seed) run `Trainer.train_step` on the same
batch from the recipe's own loader, alternately after a warm-up; reports the median seconds per
step of each and their ratio. The synthetic sets are made on first use.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]
MODES = ("false", "bf16")


def step_times(recipe_path: str, repeats: int, out: Path) -> dict:
    from posekit.engine.recipe import load_recipe
    from posekit.engine.trainer import Trainer

    recipes = {amp: load_recipe(ROOT / recipe_path, [f"amp={amp}", f"out={out / amp}", "data.workers=0"])
               for amp in MODES}
    trainers = {amp: Trainer(recipe, quiet=True) for amp, recipe in recipes.items()}
    loader = trainers["false"].task.train_loader(0)
    for trainer in trainers.values():
        trainer.steps_per_epoch = len(loader)
    images, targets = next(iter(loader))
    times: dict[str, list[float]] = {amp: [] for amp in MODES}
    for round_ in range(repeats + 1):
        for amp, trainer in trainers.items():
            start = time.perf_counter()
            trainer.train_step(images, targets)
            if round_:
                times[amp].append(time.perf_counter() - start)
    medians = {amp: round(statistics.median(t), 4) for amp, t in times.items()}
    return {"model": recipes["false"].model, "batch": len(images), "input": list(images.shape[-2:]),
            "seconds_per_step": medians, "bf16_speedup": round(medians["false"] / medians["bf16"], 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipes", nargs="+", default=["configs/synth/rtmpose-t.yaml",
                                                         "configs/synth/cspnext-t-udp.yaml"])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--results", default="train_step_amp", help="report file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = header("training step: float32 vs bfloat16 autocast on CPU")
    with tempfile.TemporaryDirectory() as tmp:
        rows = [step_times(r, args.repeats, Path(tmp) / str(i)) for i, r in enumerate(args.recipes)]
    for row in rows:
        print(json.dumps(row))
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / f"benchmarks/results/{args.results}.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
