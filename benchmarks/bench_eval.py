"""Keypoint evaluation speed: `posekit eval` against pycocotools (and faster-coco-eval) as whole processes.

    python benchmarks/bench_eval.py [--images 5000] [--repeats 3] [--seed 0]

Builds a synthetic COCO-sized case (people with areas from small to large, crowd regions, people
without labelled keypoints, results = perturbed people + duplicates + false positives, some images
with more than 20 results), writes gt.json and results.json to a temporary folder, then times each
evaluator as a separate process (start-up, JSON loading and evaluation included): one warm-up round,
then `--repeats` interleaved rounds; reports medians, the ratio posekit / pycocotools, checks that
the statistics agree, and writes benchmarks/results/eval.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

COCO_SIGMAS = np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87,
                        .89, .89]) / 10.0

PYCOCOTOOLS = """
import contextlib, io, json, sys
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    E = COCOeval(gt, dt, 'keypoints'); E.evaluate(); E.accumulate(); E.summarize()
json.dump(E.stats.tolist(), open(sys.argv[3], 'w'))
"""

FASTER_COCO_EVAL = """
import contextlib, io, json, sys
from faster_coco_eval import COCO, COCOeval_faster
with contextlib.redirect_stdout(io.StringIO()):
    gt = COCO(sys.argv[1]); dt = gt.loadRes(sys.argv[2])
    E = COCOeval_faster(gt, dt, 'keypoints', print_function=lambda *a: None)
    E.evaluate(); E.accumulate(); E.summarize()
json.dump(list(map(float, E.stats[:10])), open(sys.argv[3], 'w'))
"""

# Only the eval sub-command, for when another sub-command of the CLI does not import yet.
POSEKIT_EVAL_ONLY = """
import sys
import posekit.cli as cli
cli.COMMANDS = ['eval']
sys.exit(cli.main(sys.argv[1:]))
"""


def make_case(num_images: int, seed: int = 0) -> tuple[dict, list[dict]]:
    """A COCO-like GT (about 2.5 people per image) and about 10 results per image."""
    rng = np.random.default_rng(seed)
    k = len(COCO_SIGMAS)
    people = rng.choice([0, 1, 2, 3, 4, 6, 10, 15], size=num_images, p=[.3, .2, .15, .1, .08, .08, .06, .03])
    image_of = np.repeat(np.arange(num_images), people)  # (G,)
    g = len(image_of)
    size = np.exp(rng.uniform(np.log(16), np.log(400), g))  # sqrt(area): small, medium and large people
    centre = rng.uniform(0, 640, (g, 2))
    xy = centre[:, None] + rng.normal(0, 1, (g, k, 2)) * size[:, None, None] / 3  # (G, K, 2)
    v = rng.choice([0, 1, 2], size=(g, k), p=[.25, .15, .6])
    crowd = rng.random(g) < 0.02
    v[crowd | (rng.random(g) < 0.1)] = 0  # crowd regions and people without labelled keypoints
    xy[v == 0] = 0
    boxes = np.c_[centre - size[:, None] / 2, size, size]
    area = size ** 2 * rng.uniform(0.4, 0.8, g)
    images = [{"id": int(i) + 1, "file_name": f"{i + 1:012d}.jpg", "width": 640, "height": 640}
              for i in range(num_images)]
    anns = [{"id": j + 1, "image_id": int(image_of[j]) + 1, "category_id": 1, "iscrowd": int(crowd[j]),
             "keypoints": kp, "num_keypoints": int(n), "bbox": b, "area": float(a)}
            for j, (kp, n, b, a) in enumerate(zip(
                np.round(np.c_[xy.reshape(g, -1, 2), v[..., None]].reshape(g, -1), 2).tolist(),
                (v > 0).sum(1), np.round(boxes, 2).tolist(), np.round(area, 2).tolist()))]

    found = np.flatnonzero(~crowd & (rng.random(g) < 0.9))
    found = np.r_[found, found[rng.random(len(found)) < 0.3]]  # duplicates
    noise = rng.uniform(0.005, 0.08, len(found))[:, None, None] * size[found, None, None]
    det_xy = np.where(v[found, :, None] > 0, xy[found], centre[found, None]) + rng.normal(0, 1, (len(found), k, 2)) * noise
    det_image = image_of[found]
    fp = rng.poisson(7, num_images)
    fp_image = np.repeat(np.arange(num_images), fp)
    fp_size = rng.uniform(20, 300, len(fp_image))
    fp_xy = rng.uniform(0, 640, (len(fp_image), 1, 2)) + rng.normal(0, 1, (len(fp_image), k, 2)) * fp_size[:, None, None] / 3
    det_xy, det_image = np.r_[det_xy, fp_xy], np.r_[det_image, fp_image]
    d = len(det_image)
    det_scores = np.r_[rng.uniform(0.3, 1, len(found)), rng.uniform(0, 0.7, len(fp_image))]
    kpt_scores = rng.uniform(0, 1, (d, k))
    flat = np.round(np.c_[det_xy.reshape(d, -1, 2), kpt_scores[..., None]].reshape(d, -1), 2).tolist()
    order = rng.permutation(d)
    results = [{"image_id": int(det_image[i]) + 1, "category_id": 1, "keypoints": flat[i],
                "score": round(float(det_scores[i]), 4)} for i in order]
    category = {"id": 1, "name": "person", "supercategory": "person",
                "keypoints": [f"k{i}" for i in range(k)], "skeleton": []}
    return {"images": images, "annotations": anns, "categories": [category]}, results


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "platform": platform.platform()}


def run(cmd: list[str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one process. On a shared machine the CPU
    time is the steadier of the two."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"command failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return seconds, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def posekit_command() -> tuple[list[str], str]:
    """The installed `posekit` console script, or the eval sub-command alone if the CLI does not import."""
    script = Path(sys.executable).with_name("posekit")
    check = subprocess.run([str(script), "eval", "--help"], capture_output=True, text=True)
    if check.returncode == 0:
        return [str(script)], "the installed posekit console script"
    reason = (check.stderr.strip().splitlines() or ["?"])[-1]
    return [sys.executable, "-c", POSEKIT_EVAL_ONLY], f"the posekit CLI with only 'eval' registered ({reason})"


def has_module(name: str) -> bool:
    return subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True).returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "eval.json"))
    args = parser.parse_args(argv)

    info = machine()
    print(f"machine: {info['cpu']} | {info['cores']} cores | python {info['python']} | numpy {info['numpy']}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gt, results = make_case(args.images, args.seed)
        (tmp / "gt.json").write_text(json.dumps(gt))
        (tmp / "results.json").write_text(json.dumps(results))
        sizes = {"images": len(gt["images"]), "gt": len(gt["annotations"]), "results": len(results),
                 "max_results_per_image": int(np.bincount([r["image_id"] for r in results]).max())}
        print("case: " + ", ".join(f"{k} {v}" for k, v in sizes.items()))
        files = [str(tmp / "gt.json"), str(tmp / "results.json")]
        posekit, posekit_note = posekit_command()
        tools = {
            "pycocotools": [sys.executable, "-c", PYCOCOTOOLS, *files, str(tmp / "pycocotools.json")],
            "posekit": [*posekit, "eval", "--gt", files[0], "--results", files[1], "--json",
                        str(tmp / "posekit.json")],
        }
        notes = {"posekit": posekit_note}
        print(f"posekit: timing {posekit_note}")
        if has_module("faster_coco_eval"):
            tools["faster-coco-eval"] = [sys.executable, "-c", FASTER_COCO_EVAL, *files,
                                         str(tmp / "faster-coco-eval.json")]
        else:
            notes["faster-coco-eval"] = "not installed: `pip install faster-coco-eval` did not work or was not run"
            print(f"faster-coco-eval: {notes['faster-coco-eval']}")
        for name, cmd in tools.items():
            print(f"command [{name}]: {' '.join(cmd if '-c' not in cmd else [cmd[0], '-c', '<script>', *cmd[3:]])}")
        times = {name: [] for name in tools}
        cpu = {name: [] for name in tools}
        for round_ in range(args.repeats + 1):  # round 0 is the warm-up
            for name, cmd in tools.items():
                seconds, cpu_seconds = run(cmd)
                if round_:
                    times[name].append(seconds)
                    cpu[name].append(cpu_seconds)
        stats = {name: json.loads((tmp / f"{name}.json").read_text()) for name in tools}

    reference = np.array(stats["pycocotools"])
    agreement = {"posekit": float(np.abs(np.array(list(stats["posekit"]["stats"].values())) - reference).max())}
    if "faster-coco-eval" in stats:
        agreement["faster-coco-eval"] = float(np.abs(np.array(stats["faster-coco-eval"]) - reference).max())
    medians = {name: statistics.median(t) for name, t in times.items()}
    cpu_medians = {name: statistics.median(t) for name, t in cpu.items()}
    ratio = medians["posekit"] / medians["pycocotools"]
    cpu_ratio = cpu_medians["posekit"] / cpu_medians["pycocotools"]
    for name, m in medians.items():
        spread = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"{name:17s} median {m:7.2f} s wall ({spread}), {cpu_medians[name]:6.2f} s CPU"
              + (f"  max |stat diff| vs pycocotools {agreement[name]:.1e}" if name in agreement else ""))
    print(f"ratio posekit / pycocotools: {ratio:.3f} wall, {cpu_ratio:.3f} CPU (target <= 0.1); "
          f"AP {reference[0]:.4f}")
    report = {"machine": info, "case": sizes, "repeats": args.repeats, "seconds": times, "median_s": medians,
              "cpu_seconds": cpu, "median_cpu_s": cpu_medians, "ratio_posekit_over_pycocotools": ratio,
              "cpu_ratio_posekit_over_pycocotools": cpu_ratio, "max_abs_stat_diff_vs_pycocotools": agreement,
              "stats_pycocotools": reference.tolist(), "notes": notes,
              "command": "python benchmarks/bench_eval.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=1))
    if agreement["posekit"] > 1e-12:
        raise SystemExit(f"posekit and pycocotools disagree by {agreement['posekit']:.3g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
