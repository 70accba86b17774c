"""Train RTMPose-t and RTMDet-nano on the synthetic benchmark for fixed CPU budgets; report AP.

    python benchmarks/train_synth_topdown.py [--pose-budget-min 30] [--det-budget-min 20] [--export]

Each model's `epochs` is fitted to its budget from a short timing of training steps (data
generation is not counted), the cosine schedule then runs to its end, and the recipe's
`time_budget_min` stops it hard at the budget. The held-out synthetic val set (another seed) is
evaluated with ground-truth boxes and with the trained detector's boxes. --export writes the
weights (float16) to src/posekit/assets/ for `make demo`.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import time
from pathlib import Path

import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]


def seconds_per_step(recipe, steps: int = 6) -> float:
    """Median time of a training step at the recipe's batch size on the real data."""
    from posekit.engine.trainer import Trainer

    trainer = Trainer(recipe, quiet=True)
    trainer.steps_per_epoch = 1
    times = []
    for i, (images, targets) in enumerate(trainer.task.train_loader(0)):
        start = time.perf_counter()
        trainer.train_step(images, targets)
        times.append(time.perf_counter() - start)
        if i == steps:
            break
    return sorted(times[1:])[len(times[1:]) // 2]


def train_within(recipe_path: Path, budget_min: float, out: Path, overrides: list[str]):
    from posekit.engine.recipe import load_recipe
    from posekit.engine.tasks import build_task
    from posekit.engine.trainer import Trainer
    from posekit.models import create_model

    recipe = load_recipe(recipe_path, [f"out={out}"] + overrides)
    d = recipe.data
    from posekit.engine.tasks import ensure_synthetic
    ensure_synthetic(d.train, d.synth_images, d.synth_seed, d.synth_size)
    ensure_synthetic(d.val, d.synth_val_images, d.synth_seed + 1, d.synth_size)
    per_step = seconds_per_step(recipe)
    steps_per_epoch = len(build_task(create_model(recipe.model, **recipe.model_args), recipe).train_loader(0))
    # leave ~12% of the budget for validation passes and data loading stalls
    recipe.epochs = max(1, math.floor(budget_min * 60 * 0.88 / (per_step * steps_per_epoch)))
    recipe.time_budget_min = budget_min
    print(f"{recipe.model}: {per_step:.2f} s/step x {steps_per_epoch} steps/epoch -> {recipe.epochs} epochs "
          f"in {budget_min} min", flush=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    trainer = Trainer(recipe, quiet=True)
    trainer.fit()
    trainer.cpu_minutes = round((cpu_seconds() - cpu) / 60, 1)
    return trainer, time.perf_counter() - start


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (data-loader workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def export(trainer, path: Path) -> None:
    from posekit.engine.checkpoint import save_checkpoint

    state = {k: v.half() if v.is_floating_point() else v for k, v in trainer.eval_model().state_dict().items()}
    save_checkpoint(path, model=trainer.recipe.model, model_args=trainer.recipe.model_args, state_dict=state,
                    note=f"trained by benchmarks/train_synth_topdown.py for {trainer.epoch} epochs")
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pose-budget-min", type=float, default=30.0)
    parser.add_argument("--det-budget-min", type=float, default=20.0)
    parser.add_argument("--out", default="runs/bench_topdown")
    parser.add_argument("--export", action="store_true")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="recipe overrides for both models, e.g. data.synth_images=100 (smoke runs)")
    args = parser.parse_args()
    info = header("synthetic benchmark: RTMPose-t + RTMDet-nano trained on CPU")
    out = Path(args.out)

    pose, pose_s = train_within(ROOT / "configs/synth/rtmpose-t.yaml", args.pose_budget_min, out / "rtmpose-t",
                                args.set)
    det, det_s = train_within(ROOT / "configs/synth/rtmdet-person-nano.yaml", args.det_budget_min,
                              out / "rtmdet-person-nano", args.set)

    from posekit.engine.evaluation import evaluate_detector, evaluate_topdown

    val = pose.task.val_data
    with torch.no_grad():
        gt_boxes = evaluate_topdown(pose.eval_model(), val).stats
        det_boxes = evaluate_topdown(pose.eval_model(), val, detector=det.eval_model()).stats
        box_ap = evaluate_detector(det.eval_model(), val)
    report = {
        "machine": info,
        "rtmpose-t": {"train_minutes": round(pose_s / 60, 1), "cpu_minutes": pose.cpu_minutes, "epochs": pose.epoch, "steps": pose.step,
                      "input_size": pose.model.input_size, "AP_gt_boxes": gt_boxes["AP"], "AP_detector_boxes":
                      det_boxes["AP"], "stats_gt_boxes": gt_boxes, "stats_detector_boxes": det_boxes},
        "rtmdet-person-nano": {"train_minutes": round(det_s / 60, 1), "cpu_minutes": det.cpu_minutes, "epochs": det.epoch, "steps": det.step,
                               "box_AP": box_ap["AP"], "box_AP50": box_ap["AP50"]},
        "val_images": len(val.coco.images), "val_people": int(len(val.coco.ann_ids)),
    }
    print(json.dumps(report, indent=1))
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / "benchmarks/results/train_synth_topdown.json").write_text(json.dumps(report, indent=1))
    if args.export:
        export(pose, ROOT / "src/posekit/assets/synth-rtmpose-t.pt")
        export(det, ROOT / "src/posekit/assets/synth-rtmdet-person-nano.pt")


if __name__ == "__main__":
    main()
