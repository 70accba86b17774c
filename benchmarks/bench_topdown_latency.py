"""CPU latency (PyTorch) of a top-down pose model per crop at several batch sizes, with the
default (NCHW) and the channels-last (NHWC) memory layout.

    python benchmarks/bench_topdown_latency.py [--model rtmpose-m] [--batches 1 8] [--repeats 30] [--threads N]

Times `model(crops)` alone (no pre/post-processing) on random crops at the model's input size, one
copy of the deployed model per layout, layouts and batch sizes interleaved after a warm-up; reports
median ms per call and per crop, and the channels-last speed-up.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import numpy as np
import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="rtmpose-m")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = header(f"{args.model}: PyTorch CPU latency per crop")
    from posekit.models import create_model

    model = create_model(args.model).for_inference()
    models = {"contiguous": model, "channels_last": copy.deepcopy(model).to(memory_format=torch.channels_last)}
    h, w = model.input_size
    inputs = {b: torch.rand(b, 3, h, w) * 255 for b in args.batches}
    arms = [(layout, b) for b in args.batches for layout in models]
    times = {arm: [] for arm in arms}
    with torch.inference_mode():
        for layout, b in arms:
            for _ in range(3):
                models[layout](inputs[b])
        for _ in range(args.repeats):
            for layout, b in arms:
                start = time.perf_counter()
                models[layout](inputs[b])
                times[layout, b].append(time.perf_counter() - start)
    result = {layout: {} for layout in models}
    for layout, b in arms:
        call = float(np.median(times[layout, b])) * 1000
        result[layout][b] = {"ms_per_call": round(call, 2), "ms_per_crop": round(call / b, 2)}
        print(f"{layout:13s} batch {b:3d}: {call:8.2f} ms per call, {call / b:7.2f} ms per crop ({h}x{w})")
    speedup = {b: round(result["contiguous"][b]["ms_per_call"] / result["channels_last"][b]["ms_per_call"], 2)
               for b in args.batches}
    print("channels_last speed-up:", speedup)
    out = ROOT / f"benchmarks/results/latency_{args.model}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": info, "model": args.model, "repeats": args.repeats, "median": result,
                               "channels_last_speedup": speedup}, indent=1))


if __name__ == "__main__":
    main()
