"""Train one-stage models on the synthetic benchmark, each for the same CPU budget; report AP.

    python benchmarks/train_synth_onestage.py [--models rtmo-s yoloxpose-s yolov8-pose-n]
        [--budget-min 30] [--threads 1]

Recipes: configs/synth/<model>.yaml. As in train_synth_topdown.py, each model trains until its
budget runs out (the cosine schedule follows the clock) and is validated once at the end. With
--threads 1 runs can share a 2-core machine; the report gives each run's wall and CPU minutes.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from common import header
from train_synth_topdown import ROOT, train_within


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=["rtmo-s", "yoloxpose-s", "yolov8-pose-n"])
    parser.add_argument("--budget-min", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="runs/bench_onestage")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = header("synthetic benchmark: one-stage models trained on CPU")
    report = {"machine": info, "budget_min": args.budget_min}
    for name in args.models:
        summary = train_within(ROOT / f"configs/synth/{name}.yaml", args.budget_min, Path(args.out) / name, args.set)
        stats = summary.pop("val")  # the Trainer's final validation: evaluate_onestage on the val set
        report[name] = {**summary, "AP": stats["AP"], "stats": stats}
        print(json.dumps({name: report[name]}, indent=1), flush=True)
    out = ROOT / "benchmarks/results" / f"train_synth_onestage_{'_'.join(args.models)}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
