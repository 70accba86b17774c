"""Synthetic data generation speed: `generate` writing JPEGs and annotations.json.

    python benchmarks/bench_synth.py [--images 200] [--size 640] [--workers 2] [--repeats 3]

Generates the set into a temporary folder `--repeats` times after one warm-up run (which also
checks that two runs give byte-identical annotations), and prints the machine, the command, the
median wall and CPU time, images per second, and what the set holds (people, occluded keypoints, heights,
CrowdPose easy/medium/hard split). Target: 200 images of 640 x 640 in at most 20 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from posekit.data.coco import load_coco
from posekit.data.synth import generate


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu_seconds() -> float:
    """User + system time of this process and of its finished children (the worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=640)
    parser.add_argument("--max-people", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores, {platform.platform()}")
    print(f"command: {' '.join([Path(sys.executable).name] + sys.argv)}")
    times, cpu_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        reference = None
        for run in range(args.repeats + 1):
            out = Path(tmp) / f"run{run}"
            cpu_start = _cpu_seconds()
            start = time.perf_counter()
            path = generate(out, args.images, seed=args.seed, size=args.size, max_people=args.max_people,
                            workers=args.workers)
            seconds = time.perf_counter() - start
            cpu = _cpu_seconds() - cpu_start
            data = path.read_bytes()
            if reference is None:
                reference = data
            elif data != reference:
                print("error: two runs with the same seed wrote different annotations")
                return 1
            if run:
                times.append(seconds)
                cpu_times.append(cpu)
            print(f"  run {run}{' (warm-up)' if run == 0 else ''}: {seconds:.2f} s wall, {cpu:.2f} s CPU")
        coco = load_coco(path)
        megabytes = sum(f.stat().st_size for f in (out / "images").iterdir()) / 2 ** 20

    median = statistics.median(times)
    v = coco.keypoints[..., 2]
    heights = coco.bboxes[:, 3]
    crowd = np.array([im["crowdIndex"] for im in coco.images])
    per_image = np.bincount(coco.ann_image_ids, minlength=len(coco.images) + 1)[1:]
    cpu = statistics.median(cpu_times)
    print(f"{args.images} images of {args.size} x {args.size} with {args.workers} workers: median {median:.2f} s "
          f"over {len(times)} runs, {args.images / median:.1f} images/s ({megabytes:.1f} MiB of JPEG)")
    print(f"CPU time (all processes): median {cpu:.2f} s, {1000 * cpu / args.images:.1f} ms per image; "
          f"load average at the end {os.getloadavg()[0]:.1f} (wall time grows when other jobs share the cores)")
    print(f"people: {len(v)} ({per_image.mean():.2f} per image, {(per_image == 0).sum()} images with none); "
          f"keypoints labelled {(v > 0).mean() * 100:.1f} %, of which occluded (v=1) "
          f"{(v == 1).sum() / max((v > 0).sum(), 1) * 100:.1f} %")
    print(f"visible-box heights px: min {heights.min():.0f}, median {np.median(heights):.0f}, "
          f"max {heights.max():.0f}; crowd index easy/medium/hard (<0.2, <0.8, >=0.8): "
          f"{(crowd < 0.2).sum()}/{((crowd >= 0.2) & (crowd < 0.8)).sum()}/{(crowd >= 0.8).sum()}")
    if args.images == 200 and args.size == 640:
        print(f"target <= 20 s: {'met' if median <= 20 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
