"""`make demo`: synthetic validation set -> predict with the bundled models -> evaluate -> drawings.

    python -m posekit.demo --out runs/demo [--images 24]

The bundled checkpoints (posekit/assets/) were trained by `benchmarks/train_synth_topdown.py` on
the synthetic benchmark; the validation images are generated with a seed the training never saw.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ASSETS = Path(__file__).parent / "assets"
POSE_WEIGHTS = ASSETS / "synth-rtmpose-t.pt"
DETECTOR_WEIGHTS = ASSETS / "synth-rtmdet-person-nano.pt"


def run(out: Path, images: int, seed: int) -> dict:
    from posekit.core.io import write_json
    from posekit.data.datasets import CocoDirectory
    from posekit.data.images import write_image
    from posekit.data.synth import generate
    from posekit.engine.evaluation import predict_topdown
    from posekit.engine.pipeline import TopDownPipeline, build_model
    from posekit.eval import evaluate
    from posekit.vis import draw_annotations, draw_poses

    started = time.perf_counter()
    val = out / "val"
    generate(val, images, seed=seed, size=640)
    data = CocoDirectory(val)
    print(f"[1/4] synthetic validation set: {images} images, {len(data.coco.ann_ids)} people -> {val}")

    pose = build_model("rtmpose-t", str(POSE_WEIGHTS))
    detector = build_model("rtmdet-person-nano", str(DETECTOR_WEIGHTS))
    results = {}
    for mode, pipe in (("gt-boxes", TopDownPipeline(pose)), ("detector", TopDownPipeline(pose, detector))):
        predictions = predict_topdown(pipe, data, use_gt_boxes=mode == "gt-boxes")
        write_json(out / f"results_{mode}.json", predictions)
        results[mode] = evaluate(str(data.ann_file), predictions, dataset="coco")
    print(f"[2/4] predicted with rtmpose-t (+ rtmdet-person-nano) -> {out}/results_*.json")

    print("[3/4] evaluation (pycocotools protocol):")
    print(results["detector"].header())
    for mode, result in results.items():
        print(f"  {mode:9s} " + "  ".join(f"{k} {result.stats[k]:.3f}" for k in ("AP", "AP50", "AP75", "AR")))

    pipe = TopDownPipeline(pose, detector)
    coco = data.coco
    for i in range(min(4, images)):
        image = data.read(i)
        rows = coco.annotation_rows(int(coco.images[i]["id"]))
        write_image(out / "vis" / f"{i:06d}_gt.jpg", draw_annotations(image, coco.keypoints[rows]))
        write_image(out / "vis" / f"{i:06d}_pred.jpg", draw_poses(image, pipe(image)))
    print(f"[4/4] drawings -> {out}/vis  ({time.perf_counter() - started:.1f} s in all)")
    summary = {mode: r.stats for mode, r in results.items()}
    write_json(out / "summary.json", summary, indent=1)
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--images", type=int, default=24)
    parser.add_argument("--seed", type=int, default=90210, help="validation seed (training used others)")
    args = parser.parse_args(argv)
    run(Path(args.out), args.images, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
