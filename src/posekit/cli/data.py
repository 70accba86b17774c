"""`posekit data ...`: dataset utilities. `posekit data synth` writes a synthetic multi-person set."""

from __future__ import annotations

import argparse
import time


def _int_at_least(minimum: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def run_synth(args) -> int:
    import numpy as np

    from posekit.data.coco import load_coco
    from posekit.data.synth import generate

    start = time.perf_counter()
    path = generate(args.out, args.images, seed=args.seed, size=args.size, max_people=args.max_people,
                    workers=args.workers, progress=args.progress)
    seconds = time.perf_counter() - start
    coco = load_coco(path)
    v = coco.keypoints[..., 2]
    labelled = max(int((v > 0).sum()), 1)
    crowd = np.array([im.get("crowdIndex", 0.0) for im in coco.images])
    print(f"wrote {len(coco.images)} images, {len(coco.ann_ids)} people to {path.parent} in {seconds:.1f} s "
          f"(occluded keypoints {100 * (v == 1).sum() / labelled:.1f} %, "
          f"mean crowd index {crowd.mean() if len(crowd) else 0:.2f})")
    return 0


def register(sub) -> None:
    parser = sub.add_parser("data", help="dataset utilities (synthetic data, ...)")
    actions = parser.add_subparsers(dest="data_command", required=True, metavar="ACTION")

    synth = actions.add_parser("synth", help="write a synthetic multi-person COCO-keypoints dataset",
                               description="Write DIR/images/000000.jpg ... and DIR/annotations.json "
                                           "(COCO keypoints, with crowdIndex per image).")
    synth.add_argument("--out", required=True, metavar="DIR", help="output directory")
    synth.add_argument("--images", required=True, type=_int_at_least(1), metavar="N", help="number of images")
    synth.add_argument("--seed", type=_int_at_least(0), default=0, metavar="S", help="random seed (default 0)")
    synth.add_argument("--size", type=_int_at_least(64), default=640, help="image side in pixels (default 640)")
    synth.add_argument("--max-people", type=_int_at_least(0), default=8, metavar="M",
                       help="most people per image (default 8)")
    synth.add_argument("--workers", type=_int_at_least(1), default=None, help="processes (default: up to 2)")
    synth.add_argument("--progress", action="store_true", help="show a progress bar")
    synth.set_defaults(func=run_synth)
