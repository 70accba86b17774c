"""Training images per second on a CPU: one process on every core against one process per core
(data-parallel, gloo), at the same global batch.

    python benchmarks/bench_ddp_throughput.py [--models rtmpose-t cspnext-t-udp] [--batch 32] [--rounds 3]

Each round runs both contenders, one after the other, as fresh processes that time `--steps`
training steps (bfloat16 autocast, synthetic tensors, after 3 warm-up steps); the report gives the
median images per second of each and their ratio. On the 2-core AMD EPYC of
results/ddp_throughput.json the two were within 10 % at batch 32 (RTMPose-t 0.95x, the 128x96
heatmap stage 1.10x): on one machine data-parallel training buys little speed; the global batch
mattered more (one process, RTMPose-t: 45 images/s at batch 32 here, 39 at batch 16 in an ad-hoc
timing on the same machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"rtmpose-t": ({}, (256, 192)),
         "cspnext-t-udp": ({"input_size": [128, 96], "deconv_channels": [128, 128, 128]}, (128, 96))}


def time_steps(model_name: str, batch: int, steps: int) -> float:
    """Seconds per training step of this process (its share of `batch`), after a warm-up."""
    from posekit.engine import distributed
    from posekit.models import create_model

    distributed.init_from_env(torch.device("cpu"))
    torch.manual_seed(0)
    kwargs, (h, w) = SIZES[model_name]
    model = create_model(model_name, **kwargs).train()
    train_model = distributed.wrap(model, torch.device("cpu"))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = distributed.per_process_batch(batch)
    images = torch.rand(b, 3, h, w) * 255
    targets = {"keypoints": torch.rand(b, 17, 2) * torch.tensor([w, h]), "keypoint_weights": torch.ones(b, 17)}

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            outputs = train_model(images)
        outputs = tuple(o.float() for o in outputs) if isinstance(outputs, tuple) else outputs.float()
        sum(model.loss(outputs, targets).values()).backward()
        optimizer.step()

    for _ in range(3):
        step()
    distributed.barrier()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return distributed.reduce_float((time.perf_counter() - start) / steps)


def run(model_name: str, batch: int, steps: int, processes: int) -> float:
    """Images per second of `processes` one-thread processes (1: one process with every core)."""
    me = [str(Path(__file__).resolve()), "--child", model_name, "--batch", str(batch), "--steps", str(steps)]
    if processes == 1:
        cmd = [sys.executable] + me
        env = dict(os.environ, OMP_NUM_THREADS=str(os.cpu_count()))
    else:  # --standalone: torchrun finds a free port itself
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"] + me
        env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    seconds = float([line for line in done.stdout.splitlines() if line.startswith("seconds_per_step")][0].split()[1])
    return batch / seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", nargs="+", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--batch", type=int, default=32, help="global batch")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        seconds = time_steps(args.child, args.batch, args.steps)
        if os.environ.get("RANK", "0") == "0":
            print(f"seconds_per_step {seconds}")
        return
    info = header("training throughput on CPU: one process on every core vs one process per core (DDP)")
    processes = os.cpu_count() or 1
    rows = []
    for model_name in args.models:
        rates: dict[str, list[float]] = {"one_process": [], f"{processes}_processes": []}
        for _ in range(args.rounds):
            rates["one_process"].append(run(model_name, args.batch, args.steps, 1))
            rates[f"{processes}_processes"].append(run(model_name, args.batch, args.steps, processes))
        medians = {k: round(statistics.median(v), 1) for k, v in rates.items()}
        row = {"model": model_name, "global_batch": args.batch, "images_per_second": medians,
               "ratio": round(medians[f"{processes}_processes"] / medians["one_process"], 2)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    (ROOT / "benchmarks/results").mkdir(exist_ok=True)
    (ROOT / "benchmarks/results/ddp_throughput.json").write_text(json.dumps({"machine": info, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
