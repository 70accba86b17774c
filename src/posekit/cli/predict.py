"""`posekit predict --model NAME [--weights W] [--detector NAME --detector-weights W] SOURCE --out DIR`.

Writes DIR/results.json (COCO results; image ids number the inputs from 1), DIR/images.json (id ->
file name, width, height) and drawings (DIR/vis/*.jpg, or DIR/vis.mp4 for a video or webcam).
Everything is written under temporary names and renamed at the end, so a failed run leaves no
partial output.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path


def run(args) -> int:
    import cv2

    from posekit.core.io import write_json
    from posekit.engine.pipeline import load
    from posekit.engine.sources import describe_source, iterate_source, video_fps
    from posekit.vis import draw_poses

    kind, _ = describe_source(args.source)
    pipe = load(args.model, args.weights, args.detector, args.detector_weights, device=args.device,
                flip_test=args.flip_test)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(str(out / ".vis.partial"))
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    results, images, writer, started = [], [], None, time.perf_counter()
    try:
        for index, (name, frame) in enumerate(iterate_source(args.source, args.max_frames), start=1):
            poses = pipe(frame)
            results.extend(poses.to_coco(index))
            images.append({"id": index, "file_name": name, "height": frame.shape[0], "width": frame.shape[1]})
            if args.no_draw:
                continue
            drawn = cv2.cvtColor(draw_poses(frame, poses, kpt_thr=args.kpt_thr), cv2.COLOR_RGB2BGR)
            if kind == "images":
                cv2.imwrite(str(staging / (Path(name).stem + ".jpg")), drawn)
            else:
                if writer is None:
                    fps = video_fps(args.source) if kind == "video" else 25.0
                    writer = cv2.VideoWriter(str(staging / "vis.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), fps,
                                             (frame.shape[1], frame.shape[0]))
                writer.write(drawn)
        if writer is not None:
            writer.release()
        write_json(out / "results.json", results)
        write_json(out / "images.json", images)
        if not args.no_draw:
            target = out / ("vis" if kind == "images" else "vis.mp4")
            if kind == "images":
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
            else:
                (staging / "vis.mp4").replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    seconds = time.perf_counter() - started
    print(f"{len(images)} input(s), {len(results)} people, {seconds:.2f} s -> {out}/results.json"
          + ("" if args.no_draw else f", drawings in {out}/{'vis' if kind == 'images' else 'vis.mp4'}"))
    return 0


def register(sub) -> None:
    p = sub.add_parser("predict", help="poses for an image, folder, video or webcam")
    p.add_argument("source", help="image file, folder of images, video file, or webcam index (0)")
    p.add_argument("--model", required=True, help="pose model name (see `posekit models`)")
    p.add_argument("--weights", help="checkpoint path or URL for the pose model")
    p.add_argument("--detector", help="person detector for top-down models, e.g. rtmdet-person-nano")
    p.add_argument("--detector-weights", help="checkpoint path or URL for the detector")
    p.add_argument("--out", default="runs/predict", help="output directory (default runs/predict)")
    p.add_argument("--kpt-thr", type=float, default=0.3, help="keypoints below this score are not drawn")
    p.add_argument("--flip-test", action="store_true", help="average with the horizontally flipped input")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--max-frames", type=int, default=None, help="stop after this many frames")
    p.add_argument("--no-draw", action="store_true", help="write results only")
    p.set_defaults(func=run)
