"""Latency against the number of people in one image: one-stage RTMO-s vs top-down RTMDet-nano + RTMPose-t.

    python benchmarks/bench_people_scaling.py [--people 1 5 10 20] [--repeats 7] [--threads 2]

Official architectures at their official input sizes (RTMO-s 640; RTMDet-nano 320 + RTMPose-t
256x192), PyTorch on CPU, batch 1, one 640x640 synthetic image per person count. Weights are
untrained, so the number of people each pipeline handles is set explicitly: the top-down pose
stage gets the N ground-truth boxes (its detector runs in full, then NMS on N candidates); RTMO's
decode gets score logits that mark the N points nearest the people's box centres, so NMS and the
per-person DCC see N people. Contenders run interleaved after a warm-up; medians are reported.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from common import header

ROOT = Path(__file__).resolve().parents[1]


def scene(n: int, seed: int = 0):
    from posekit.data.synth import render_scene, sample_background, sample_people

    rng = np.random.default_rng(seed)
    image, ann = render_scene(sample_background(rng, 640), sample_people(rng, n, 640))
    boxes = np.concatenate([ann.bboxes[:, :2], ann.bboxes[:, :2] + ann.bboxes[:, 2:]], 1)
    return image, boxes


def mark_people(scores: torch.Tensor, points: torch.Tensor, boxes: np.ndarray) -> torch.Tensor:
    """Score logits (1, A[, C]) set to -10 except +10 at the point nearest each box centre."""
    centres = torch.as_tensor((boxes[:, :2] + boxes[:, 2:]) / 2, dtype=points.dtype)
    nearest = torch.cdist(centres, points[:, :2]).argmin(1)  # (N,)
    out = torch.full_like(scores, -10.0)
    out[0, nearest] = 10.0
    return out


@torch.no_grad()
def topdown_seconds(det, pose_pipe, image, boxes) -> dict:
    start = time.perf_counter()
    batch, metas = det.preprocess([image])
    cls, det_boxes = det(batch)
    priors, _ = det.priors_for(cls.shape[1])
    det.decode((mark_people(cls, priors, boxes * metas["scale_factor"][0].repeat(2)), det_boxes), metas)
    detector = time.perf_counter() - start
    pose_pipe(image, boxes=boxes)
    return {"detector": detector, **pose_pipe.timings, "total": time.perf_counter() - start}


@torch.no_grad()
def onestage_seconds(model, image, boxes) -> dict:
    start = time.perf_counter()
    batch, metas = model.preprocess([image])
    pre = time.perf_counter()
    outputs = model(batch)
    forward = time.perf_counter()
    M = metas["matrix"][0]
    input_boxes = np.concatenate([boxes[:, :2] * M[0, 0] + M[:, 2], boxes[:, 2:] * M[0, 0] + M[:, 2]], 1)
    outputs = dict(outputs, cls_logits=mark_people(outputs["cls_logits"], outputs["priors"], input_boxes))
    poses = model.decode(outputs, metas)
    end = time.perf_counter()
    assert len(poses[0]) >= 1
    return {"pre": pre - start, "model": forward - pre, "post": end - forward, "total": end - start}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--people", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    info = header("latency vs number of people: rtmo-s vs rtmdet-person-nano + rtmpose-t (PyTorch, CPU)")
    from posekit.engine.pipeline import TopDownPipeline
    from posekit.models import create_model

    torch.manual_seed(0)
    rtmo = create_model("rtmo-s").for_inference()
    det = create_model("rtmdet-person-nano").for_inference()
    pose = TopDownPipeline(create_model("rtmpose-t"))
    scenes = {n: scene(n, seed=n) for n in args.people}
    contenders = {"rtmo-s": lambda im, bx: onestage_seconds(rtmo, im, bx),
                  "rtmdet-nano+rtmpose-t": lambda im, bx: topdown_seconds(det, pose, im, bx)}
    for fn in contenders.values():  # warm-up
        fn(*scenes[args.people[0]])
    times = {(name, n): [] for name in contenders for n in args.people}
    for _ in range(args.repeats):
        for n in args.people:
            for name, fn in contenders.items():
                times[name, n].append(fn(*scenes[n]))
    table = {}
    print(f"\n{'people':>6s} " + " ".join(f"{name + ' (ms)':>26s}" for name in contenders) + "   ratio top-down/rtmo")
    for n in args.people:
        row = {name: {k: float(np.median([t[k] for t in times[name, n]])) * 1000 for k in times[name, n][0]}
               for name in contenders}
        table[n] = row
        totals = [row[name]["total"] for name in contenders]
        print(f"{n:6d} " + " ".join(f"{t:26.1f}" for t in totals) + f"   {totals[1] / totals[0]:.2f}")
    print("\nstage medians (ms):")
    for n in args.people:
        for name in contenders:
            print(f"  N={n:<3d} {name:22s} " + "  ".join(f"{k} {v:.1f}" for k, v in table[n][name].items()))
    out = ROOT / "benchmarks/results/people_scaling.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps({"machine": info, "repeats": args.repeats, "median_ms": table}, indent=1))


if __name__ == "__main__":
    main()
