"""How RTMPose-t's synthetic AP grows with the images it trains on: both stages of
train_synth_topdown.py's recipe for fixed epoch counts instead of a clock budget, so that a GPU can
stand in for hours of CPU (same recipes, same val set; batch and learning rate as given).

    python benchmarks/scale_synth_topdown.py --epochs 17 7 --batch 32 --lr 1e-3 1e-3 --device cuda \
        --train-images 1500 --out runs/scale/x1
    python benchmarks/scale_synth_topdown.py --epochs 17 10 --batch 32 --lr 1e-3 1e-3 --device cuda \
        --set-heatmap "augment.scale=[0.5,0.83]" --set-pose "model_args.input_size=[192,144]" --out runs/scale/r192

v11's 30 CPU-minutes (batch 16) were 6,440 heatmap steps (17 epochs of the 1,500-image set) and 2,789
RTMPose-t steps (7.4 epochs). Reports AP with ground-truth boxes on the val set. --set-heatmap and
--set-pose override one stage (the second line: RTMPose-t at 192x144 from a heatmap stage whose
windows show people at that scale; results/scale_synth_topdown_gpu_arms.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import header
from train_synth_topdown import train_within

ROOT = Path(__file__).resolve().parents[1]


def run_stage(recipe_file: str, epochs: int, out: Path, overrides: list[str]) -> dict:
    return train_within(ROOT / recipe_file, 0, out, overrides + [f"epochs={epochs}"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, nargs=2, required=True, metavar=("HEATMAP", "RTMPOSE"))
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, nargs=2, default=[1e-3, 5e-4], metavar=("HEATMAP", "RTMPOSE"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=1500)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for both stages")
    parser.add_argument("--set-heatmap", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for the heatmap stage")
    parser.add_argument("--set-pose", nargs="*", default=[], metavar="KEY=VALUE", help="overrides for the RTMPose-t stage")
    args = parser.parse_args()
    info = header("synthetic benchmark: AP against training images seen (fixed epochs)")
    train_dir = "runs/synth/train" if args.train_images == 1500 else f"runs/synth/train{args.train_images}"
    common = [f"batch_size={args.batch}", f"device={args.device}", f"data.workers={args.workers}",
              f"data.train={train_dir}", f"data.synth_images={args.train_images}"] + args.set
    heatmap = run_stage("configs/synth/cspnext-t-udp.yaml", args.epochs[0], args.out / "cspnext-t-udp",
                        common + [f"optimizer.lr={args.lr[0]}"] + args.set_heatmap)
    pose = run_stage("configs/synth/rtmpose-t.yaml", args.epochs[1], args.out / "rtmpose-t",
                     common + [f"optimizer.lr={args.lr[1]}",
                               f"pretrained.checkpoint={args.out / 'cspnext-t-udp' / 'last.pt'}"] + args.set_pose)
    result = {"machine": info, "args": {k: str(v) for k, v in vars(args).items()},
              "images_seen": {"heatmap": heatmap["steps"] * args.batch, "rtmpose": pose["steps"] * args.batch},
              "heatmap": heatmap, "rtmpose-t": pose, "AP_gt_boxes": pose["val"].get("AP")}
    print(json.dumps(result), flush=True)
    (args.out / "scale.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
