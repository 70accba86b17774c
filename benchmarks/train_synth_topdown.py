"""Train RTMPose-t and RTMDet-nano on the synthetic benchmark for fixed CPU budgets; report AP.

    torchrun --nproc-per-node 2 benchmarks/train_synth_topdown.py --train pose --budget-min 30
        # the recipe: both stages data-parallel, one process per core (AP 0.69-0.70)
    torchrun --nproc-per-node 2 benchmarks/train_synth_topdown.py --train pose --set seed=22 \
        --set-pose "augment.scale=[0.75,1.25]"    # --set-heatmap / --set-pose override one stage only
    python benchmarks/train_synth_topdown.py --train det --budget-min 60   # the bundled detector
    python benchmarks/train_synth_topdown.py [--export]        # evaluate both, report

Each run trains until its budget is spent (data generation is not counted) and its cosine
schedule follows the clock down to the end of the budget, where it is validated once. The report
evaluates the held-out synthetic val set (another seed) with ground-truth boxes and with the
trained detector's boxes, and with GT boxes plus flip test (MMPose's test setting for RTMPose;
the synthetic recipes train without flip, so for them it only shows what mirroring costs).
--export writes the weights (float16) to src/posekit/assets/ for `make demo`.

The pose budget covers both stages of RTMPose's recipe: first CSPNeXt-t with a UDP heatmap head
(configs/synth/cspnext-t-udp.yaml) for `--pretrain-fraction` of it, then RTMPose-t whose backbone
starts from that model's (the official models start from cspnext-*_udp checkpoints) for the rest.
The heatmap stage trains at 128x96 (its recipe says why), RTMPose-t at 256x192. Under torchrun the
stages train data-parallel (one thread per process; batch_size stays the global batch).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import time
from pathlib import Path

import torch

from common import command_line, header

ROOT = Path(__file__).resolve().parents[1]
UNBOUNDED_EPOCHS = 100_000


def train_within(recipe_path: Path, budget_min: float, out: Path, overrides: list[str]) -> dict:
    """Train one recipe for `budget_min` minutes into `out` (0: for the epochs an override sets);
    returns its summary (also written to out/summary.json): wall and CPU minutes, epochs, steps,
    threads, model, model_args and the final validation metrics ("val")."""
    from posekit.engine import distributed
    from posekit.engine.recipe import load_recipe
    from posekit.engine.tasks import ensure_synthetic
    from posekit.engine.trainer import Trainer

    # The clock ends the run and drives the cosine schedule (Trainer.lr_factor's time fraction);
    # one validation, at the end.
    recipe = load_recipe(recipe_path, [f"out={out}", f"epochs={UNBOUNDED_EPOCHS}",
                                       f"val_interval={UNBOUNDED_EPOCHS}"] + overrides)
    d = recipe.data
    with distributed.main_first():
        ensure_synthetic(d.train, d.synth_images, d.synth_seed, d.synth_size)
        ensure_synthetic(d.val, d.synth_val_images, d.synth_seed + 1, d.synth_size, "val")
    if budget_min > 0:  # else the recipe's own epochs (or time_budget_min) end the run
        recipe.time_budget_min = budget_min
    if distributed.is_main():
        print(f"{recipe.model}: training for {budget_min:.1f} min" if budget_min > 0 else
              f"{recipe.model}: training for {recipe.epochs} epochs", flush=True)
    start, cpu = time.perf_counter(), cpu_seconds()
    trainer = Trainer(recipe, quiet=True)
    metrics = trainer.fit()
    # Every process must agree on the minutes: the next stage's budget is what is left of them.
    minutes = distributed.reduce_float((time.perf_counter() - start) / 60)
    summary = {"train_minutes": round(minutes, 1),
               "cpu_minutes": round(distributed.reduce_float(cpu_seconds() - cpu, "sum") / 60, 1),
               "epochs": trainer.epoch, "steps": trainer.step, "threads": torch.get_num_threads(),
               "processes": distributed.world_size(), "model": recipe.model, "model_args": recipe.model_args,
               "val": metrics}
    if distributed.is_main():
        (out / "summary.json").write_text(json.dumps(summary))
    return summary


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished children (data-loader workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def export(run: Path, name: str, path: Path) -> None:
    """The run's final weights (EMA where used) as float16, with the architecture overrides."""
    from posekit.engine.checkpoint import model_args_of, read_checkpoint, save_checkpoint, weights_of

    ckpt = read_checkpoint(run / "last.pt")
    state = {k: v.half() if v.is_floating_point() else v for k, v in weights_of(ckpt).items()}
    # An exported file (the bundled detector linked into a run) keeps its note.
    note = ckpt.get("note") or f"trained by benchmarks/train_synth_topdown.py for {ckpt['epoch']} epochs"
    save_checkpoint(path, model=name, model_args=model_args_of(ckpt), state_dict=state, note=note)
    print(f"exported {path} ({path.stat().st_size / 1e6:.1f} MB)")


RUNS = {"pose": ("rtmpose-t", "configs/synth/rtmpose-t.yaml"),
        "det": ("rtmdet-person-nano", "configs/synth/rtmdet-person-nano.yaml")}
PRETRAIN = ("cspnext-t-udp", "configs/synth/cspnext-t-udp.yaml")


def train(which: str, budget_min: float, out: Path, overrides: list[str], pretrain_fraction: float,
          reuse_pretrain: Path | None = None, heatmap_overrides: tuple[str, ...] = (),
          pose_overrides: tuple[str, ...] = ()) -> None:
    from posekit.engine import distributed

    distributed.init_from_env(torch.device("cpu"))
    name, recipe = RUNS[which]
    pretrain = None
    stage = reuse_pretrain or out / PRETRAIN[0]
    if reuse_pretrain:  # its minutes still count against the budget
        if not (stage / "summary.json").is_file():
            raise SystemExit(f"--reuse-pretrain {stage}: no summary.json there; pass the heatmap stage "
                             f"directory of a finished run (runs/NAME/{PRETRAIN[0]})")
        pretrain = json.loads((stage / "summary.json").read_text())
    elif which == "pose" and pretrain_fraction > 0:
        pretrain = train_within(ROOT / PRETRAIN[1], budget_min * pretrain_fraction, stage,
                                overrides + list(heatmap_overrides))
    if pretrain:
        gc.collect()  # the heatmap stage's image cache goes before the next stage fills its own
        overrides = overrides + [f"pretrained.checkpoint={stage / 'last.pt'}"]
        budget_min -= pretrain["train_minutes"]
    summary = train_within(ROOT / recipe, budget_min, out / name, overrides + list(pose_overrides))
    if pretrain:
        summary["pretrain"] = pretrain
        summary["total_train_minutes"] = round(summary["train_minutes"] + pretrain["train_minutes"], 1)
    if distributed.is_main():
        (out / name / "summary.json").write_text(json.dumps(summary))
        print(json.dumps({name: summary}), flush=True)


def report(out: Path, info: dict, do_export: bool, results: str) -> None:
    from posekit.data.datasets import CocoDirectory
    from posekit.engine.evaluation import evaluate_detector, evaluate_topdown
    from posekit.engine.pipeline import build_model
    from posekit.engine.recipe import load_recipe

    pose_run, det_run = out / "rtmpose-t", out / "rtmdet-person-nano"
    pose = build_model("rtmpose-t", str(pose_run / "last.pt"))
    det = build_model("rtmdet-person-nano", str(det_run / "last.pt"))
    val = CocoDirectory(load_recipe(ROOT / RUNS["pose"][1]).data.val)
    with torch.no_grad():
        gt_boxes = evaluate_topdown(pose, val).stats
        gt_boxes_flip = evaluate_topdown(pose, val, flip_test=True).stats  # as MMPose reports RTMPose
        det_boxes = evaluate_topdown(pose, val, detector=det).stats
        box_ap = evaluate_detector(det, val)
    result = {
        "command": command_line(), "machine": info,
        "rtmpose-t": {**json.loads((pose_run / "summary.json").read_text()), "AP_gt_boxes": gt_boxes["AP"],
                      "AP_gt_boxes_flip_test": gt_boxes_flip["AP"], "AP_detector_boxes": det_boxes["AP"],
                      "stats_gt_boxes": gt_boxes, "stats_detector_boxes": det_boxes},
        "rtmdet-person-nano": {**json.loads((det_run / "summary.json").read_text()), "box_AP": box_ap["AP"],
                               "box_AP50": box_ap["AP50"]},
        "val_images": len(val.coco.images), "val_people": int(len(val.coco.ann_ids)),
    }
    print(json.dumps(result, indent=1))
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / f"benchmarks/results/{results}.json").write_text(json.dumps(result, indent=1))
    if do_export:
        export(pose_run, "rtmpose-t", ROOT / "src/posekit/assets/synth-rtmpose-t.pt")
        export(det_run, "rtmdet-person-nano", ROOT / "src/posekit/assets/synth-rtmdet-person-nano.pt")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", choices=sorted(RUNS), help="train one model (the two can run side by side "
                                                              "with --threads 1 each); without it: report")
    parser.add_argument("--budget-min", type=float, default=30.0)
    parser.add_argument("--pretrain-fraction", type=float, default=0.4,
                        help="share of the pose budget for the CSPNeXt-UDP heatmap stage (0: none)")
    parser.add_argument("--reuse-pretrain", type=Path, metavar="DIR",
                        help="with --train pose: start from this finished heatmap stage (e.g. "
                             "runs/X/cspnext-t-udp) instead of training one; its minutes count against the budget")
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="runs/bench_topdown")
    parser.add_argument("--export", action="store_true", help="with the report: write the weights to assets/")
    parser.add_argument("--results", default="train_synth_topdown", help="report file: benchmarks/results/NAME.json")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help="recipe overrides, e.g. data.workers=1 (or smaller sets for smoke runs)")
    parser.add_argument("--set-heatmap", nargs="*", default=[], metavar="KEY=VALUE",
                        help="with --train pose: overrides for the heatmap stage only (after --set)")
    parser.add_argument("--set-pose", nargs="*", default=[], metavar="KEY=VALUE",
                        help="with --train pose: overrides for the RTMPose-t stage only (after --set)")
    args = parser.parse_args()
    if (args.reuse_pretrain or args.set_heatmap or args.set_pose) and args.train != "pose":
        parser.error("--reuse-pretrain, --set-heatmap and --set-pose go with --train pose")
    if args.threads:
        torch.set_num_threads(args.threads)
    info = header("synthetic benchmark: RTMPose-t + RTMDet-nano trained on CPU")
    out = Path(args.out)
    if args.train:
        train(args.train, args.budget_min, out, args.set, args.pretrain_fraction, args.reuse_pretrain,
              args.set_heatmap, args.set_pose)
    else:
        report(out, info, args.export, args.results)


if __name__ == "__main__":
    main()
