"""Fit one batch of the synthetic training set: how fast does each loss term fall, and does the
score map separate people from background? A diagnostic for models that learn slowly on the
benchmark (it told RTMO's slow start from a broken loss).

    python benchmarks/fit_one_batch.py --models rtmo-s yoloxpose-s --steps 150 --threads 1
    python benchmarks/fit_one_batch.py --models rtmo-s --set model_args.input_size=[640,640]

Each model is built from configs/synth/<model>.yaml (with --set overrides), takes the first batch
of its training loader (batch 8, the recipe's augmentation) and trains on it alone with AdamW
(lr 2e-3, no weight decay). Every 25 steps the loss terms are printed; at the end, per image, the
highest and the mean person score (batch statistics, model still in training mode). Results:
benchmarks/results/fit_one_batch_<models>.json.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from common import header
from train_synth_topdown import ROOT


def fit(name: str, steps: int, overrides: list[str]) -> dict:
    from posekit.engine.recipe import load_recipe
    from posekit.engine.tasks import build_task
    from posekit.models import create_model

    recipe = load_recipe(ROOT / f"configs/synth/{name}.yaml", ["data.workers=0", "batch_size=8"] + overrides)
    torch.manual_seed(recipe.seed)
    model = create_model(recipe.model, **recipe.model_args).train()
    images, targets = next(iter(build_task(model, recipe).train_loader(0)))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.0)
    history, start = [], time.perf_counter()
    for step in range(steps):
        losses = model.loss(model(images), targets)
        optimizer.zero_grad()
        sum(losses.values()).backward()
        optimizer.step()
        if step % 25 == 0 or step == steps - 1:
            history.append({"step": step, **{k: round(v.item(), 3) for k, v in losses.items()}})
            print(name, json.dumps(history[-1]), flush=True)
    with torch.no_grad():
        outputs = model(images)
    scores = outputs["cls_logits"].float().sigmoid()  # (B, A)
    if "obj_logits" in outputs:  # YOLOX-Pose scores people with cls x objectness
        scores = scores * outputs["obj_logits"].float().sigmoid()
    return {"history": history, "seconds": round(time.perf_counter() - start, 1),
            "max_score": [round(v, 3) for v in scores.amax(1).tolist()],
            "mean_score": [round(v, 3) for v in scores.mean(1).tolist()]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["rtmo-s", "yoloxpose-s"], choices=["rtmo-s", "yoloxpose-s"])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    report = {"machine": header("fit one synthetic batch"), "steps": args.steps, "overrides": args.set}
    for name in args.models:
        report[name] = fit(name, args.steps, args.set)
        print(name, json.dumps({k: v for k, v in report[name].items() if k != "history"}), flush=True)
    out = ROOT / "benchmarks/results" / f"fit_one_batch_{'_'.join(args.models)}.json"
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
