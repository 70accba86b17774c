"""ER-Pose ablations (paper tables III, VII, VIII, IX) and the YOLOv8-pose-n comparison on the
synthetic benchmark, every arm trained for the same CPU budget from configs/synth/erpose-n.yaml.

    python benchmarks/erpose_ablations.py --train erpose-n sah-only ... --budget-min 6 --threads 1
    python benchmarks/erpose_ablations.py --report          # AP, AR, TAE, latency of every trained arm

Arms train one after another in a process; two processes with --threads 1 share the 2 cores.
The report evaluates each arm's final (EMA) weights on the held-out synthetic val set: COCO AP/AR,
TAE (eq. 5) of the predictions each model keeps at its inference threshold, and model + selection
latency per image at batch 1 of the deployed model (`for_inference()`: ER-Pose keeps its inference
head only), the arms interleaved after a warm-up (medians).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from common import header
from train_synth_topdown import ROOT, train_within

ERPOSE = "configs/synth/erpose-n.yaml"
# arm: (recipe, overrides). erpose-n is the paper's design: no box branch, keypoint-driven
# assignment (alpha 0.5, beta 6), MAH + SAH, SOKS.
ARMS = {
    "erpose-n": (ERPOSE, []),
    "box+box-driven": (ERPOSE, ["model_args.with_box_branch=true", "model_args.assignment=box"]),
    "box+keypoint-driven": (ERPOSE, ["model_args.with_box_branch=true"]),
    "sah-only": (ERPOSE, ["model_args.heads=sah"]),
    "mah+oks-nms": (ERPOSE, ["model_args.heads=mah", "model_args.inference_head=mah"]),
    "laplace-loss": (ERPOSE, ["model_args.pose_loss=laplace"]),
    "gaussian-oks-loss": (ERPOSE, ["model_args.pose_loss=oks"]),
    "alpha0.5-beta0": (ERPOSE, ["model_args.beta=0.0"]),
    "alpha1-beta6": (ERPOSE, ["model_args.alpha=1.0"]),
    "yolov8-pose-n": ("configs/synth/yolov8-pose-n.yaml", []),
}
TABLES = {
    "III (box branch, assignment)": ["box+box-driven", "box+keypoint-driven", "erpose-n"],
    "VII (heads)": ["sah-only", "mah+oks-nms", "erpose-n"],
    "VIII (alpha, beta)": ["alpha0.5-beta0", "erpose-n", "alpha1-beta6"],
    "IX (pose loss)": ["laplace-loss", "gaussian-oks-loss", "erpose-n"],
    "baseline": ["yolov8-pose-n", "erpose-n"],
}


def train(arms: list[str], budget_min: float, out: Path) -> None:
    for arm in arms:
        recipe, overrides = ARMS[arm]
        summary = train_within(ROOT / recipe, budget_min, out / arm, overrides)
        print(json.dumps({arm: summary}), flush=True)


def latency_ms(models: dict, images: list, repeats: int) -> dict[str, float]:
    """Median per-image time of forward + select at batch 1, arms interleaved after a warm-up."""
    models = {arm: model.for_inference() for arm, model in models.items()}
    batches = {arm: [m.preprocess([im])[0] for im in images] for arm, m in models.items()}
    times: dict[str, list[float]] = {arm: [] for arm in models}
    with torch.no_grad():
        for round_ in range(repeats + 1):
            for arm, model in models.items():
                for batch in batches[arm]:
                    start = time.perf_counter()
                    model.select(model(batch))
                    if round_:
                        times[arm].append(time.perf_counter() - start)
    return {arm: round(1000 * statistics.median(t), 2) for arm, t in times.items()}


def report(out: Path, info: dict, repeats: int, results: str) -> None:
    from posekit.data.datasets import CocoDirectory
    from posekit.engine.evaluation import evaluate_onestage, evaluate_tae
    from posekit.engine.pipeline import build_model
    from posekit.engine.recipe import load_recipe

    val = CocoDirectory(load_recipe(ROOT / ERPOSE).data.val)
    rows, models = {}, {}
    for arm in ARMS:
        if not (out / arm / "last.pt").is_file():
            continue
        summary = json.loads((out / arm / "summary.json").read_text())
        model = build_model(summary["model"], str(out / arm / "last.pt")).eval()
        with torch.no_grad():
            stats = evaluate_onestage(model, val).stats
            tae = evaluate_tae(model, val)
        models[arm] = model
        rows[arm] = {**summary, "AP": stats["AP"], "AP50": stats["AP50"], "AR": stats["AR"], **tae}
        print(json.dumps({arm: rows[arm]}), flush=True)
    for arm, ms in latency_ms(models, [val.read(i) for i in range(10)], repeats).items():
        rows[arm]["latency_ms"] = ms
    result = {"machine": info, "val_images": len(val.coco.images), "arms": rows,
              "tables": {t: [a for a in arms if a in rows] for t, arms in TABLES.items()}}
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / f"benchmarks/results/{results}.json").write_text(json.dumps(result, indent=1))
    print(markdown(rows))


def markdown(rows: dict) -> str:
    lines = []
    for table, arms in TABLES.items():
        lines += [f"\n{table}\n", "| arm | AP | AP50 | AR | TAE | latency ms | CPU min | steps |",
                  "|---|---|---|---|---|---|---|---|"]
        lines += [f"| {a} | {r['AP']:.3f} | {r['AP50']:.3f} | {r['AR']:.3f} | {r['TAE']:.3f} | "
                  f"{r['latency_ms']:.1f} | {r['cpu_minutes']} | {r['steps']} |"
                  for a in arms if (r := rows.get(a))]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", nargs="+", choices=sorted(ARMS), help="arms to train, in order")
    parser.add_argument("--report", action="store_true", help="evaluate the trained arms (after --train, if given)")
    parser.add_argument("--budget-min", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--out", default="runs/erpose_ablations")
    parser.add_argument("--repeats", type=int, default=5, help="latency rounds over 10 val images")
    parser.add_argument("--results", default="erpose_ablations", help="report file: benchmarks/results/NAME.json")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = header("ER-Pose ablations on the synthetic benchmark")
    if args.train:
        train(args.train, args.budget_min, Path(args.out))
    if args.report or not args.train:
        report(Path(args.out), info, args.repeats, args.results)


if __name__ == "__main__":
    main()
