"""CPU latency (PyTorch) of a top-down pose model per crop at several batch sizes, with the
default (NCHW) and the channels-last (NHWC) memory layout.

    python benchmarks/bench_topdown_latency.py [--model rtmpose-m] [--batches 1 8] [--repeats 30] [--threads N]

Times `model(crops)` alone (no pre/post-processing) on random crops at the model's input size, one
copy of the deployed model per layout, layouts and batch sizes interleaved after a warm-up
(`bench_layout.time_model`); reports median ms per call and per crop, and the channels-last speed-up.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from bench_layout import time_model
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
    rows = time_model(args.model, torch.device("cpu"), args.batches, ["float32"], args.repeats)
    result = {layout: {} for layout in rows[0]["ms_per_call"]}
    for row in rows:
        b, (h, w) = row["batch"], row["input"]
        for layout, call in row["ms_per_call"].items():
            result[layout][b] = {"ms_per_call": round(call, 2), "ms_per_crop": round(call / b, 2)}
            print(f"{layout} batch {b:3d}: {call:8.2f} ms per call, {call / b:7.2f} ms per crop ({h}x{w})")
    speedup = {row["batch"]: row["nhwc_speedup"] for row in rows}
    print("channels_last speed-up:", speedup)
    out = ROOT / f"benchmarks/results/latency_{args.model}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": info, "model": args.model, "repeats": args.repeats, "median": result,
                               "channels_last_speedup": speedup}, indent=1))


if __name__ == "__main__":
    main()
