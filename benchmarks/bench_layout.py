"""Deployed-model forward time in the default (NCHW) and the channels-last (NHWC) memory layout,
on CPU or CUDA: the measurement behind the pipelines' choice of layout per device.

    python benchmarks/bench_layout.py [--device cpu|cuda] [--models rtmpose-t ...] [--repeats 20] [--threads N]

For each model, `create_model(name).for_inference()` at its official input size; top-down models at
batch 1 and 8 crops, whole-image models at batch 1. Float32, as the pipelines run; on CUDA also
float16 autocast. Layouts interleaved after a warm-up, medians of ms per call (CUDA synchronised),
the channels-last speed-up, and the largest difference between the two layouts' outputs relative
to the output's scale.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from common import command_line, header

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["rtmpose-t", "rtmpose-m", "hrnet-w32", "rtmdet-person-nano", "rtmdet-person-m", "yoloxpose-s",
          "rtmo-s", "yolov8-pose-n", "yolo11-pose-n", "erpose-n"]
LAYOUTS = {"nchw": torch.contiguous_format, "nhwc": torch.channels_last}


def _layout_difference(a, b) -> float:
    """Largest |a - b| over all output tensors, relative to each tensor's largest magnitude."""
    from posekit.engine.pipeline import output_tensors

    return max(float((x.float() - y.float()).abs().max() / max(1.0, float(x.float().abs().max())))
               for x, y in zip(output_tensors(a), output_tensors(b)))


def time_model(name: str, device: torch.device, batches: list[int], precisions: list[str], repeats: int) -> list[dict]:
    from posekit.models import create_model, model_card

    torch.manual_seed(0)
    deployed = create_model(name).for_inference().eval().to(device)
    models = {layout: copy.deepcopy(deployed).to(memory_format=fmt) for layout, fmt in LAYOUTS.items()}
    h, w = deployed.input_size
    topdown = model_card(name).paradigm == "top-down"
    arms = [(p, b, layout) for p in precisions for b in (batches if topdown else [1]) for layout in LAYOUTS]
    inputs = {b: torch.rand(b, 3, h, w, device=device) * 255 for _, b, _ in arms}

    def call(precision, b, layout):
        autocast = torch.autocast(device.type, torch.float16) if precision == "float16" else nullcontext()
        with autocast:
            return models[layout](inputs[b].contiguous(memory_format=LAYOUTS[layout]))

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    times = {arm: [] for arm in arms}
    with torch.inference_mode():
        outputs = {arm: call(*arm) for arm in arms for _ in range(3)}
        for _ in range(repeats):
            for arm in arms:
                sync()
                start = time.perf_counter()
                call(*arm)
                sync()
                times[arm].append(time.perf_counter() - start)
    rows = []
    for p, b in dict.fromkeys((p, b) for p, b, _ in arms):
        ms = {layout: round(float(np.median(times[p, b, layout])) * 1000, 3) for layout in LAYOUTS}
        rows.append({"model": name, "input": [h, w], "batch": b, "precision": p, "ms_per_call": ms,
                     "nhwc_speedup": round(ms["nchw"] / ms["nhwc"], 2),
                     "max_relative_difference": _layout_difference(outputs[p, b, "nchw"], outputs[p, b, "nhwc"])})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--models", nargs="+", default=MODELS)
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8], help="top-down crops per call")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--results", default="", help="report file: benchmarks/results/NAME.json (default layout_DEVICE)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    info = header(f"deployed forward, NCHW vs NHWC on {args.device}")
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        print(f"# gpu: {info['gpu']}")
    precisions = ["float32", "float16"] if device.type == "cuda" else ["float32"]
    rows = [row for name in args.models for row in time_model(name, device, args.batches, precisions, args.repeats)]
    out = ROOT / f"benchmarks/results/{args.results or 'layout_' + args.device}.json"
    out.parent.mkdir(exist_ok=True)
    report = {"command": command_line(), "machine": info, "repeats": args.repeats, "rows": rows}
    out.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
