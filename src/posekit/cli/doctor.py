"""`posekit doctor`: the environment facts a bug report needs."""

from __future__ import annotations

import os
import platform
import sys


def environment_report() -> dict:
    import cv2
    import numpy
    import onnxruntime
    import torch

    import posekit

    cuda = torch.cuda.is_available()
    return {
        "posekit": posekit.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cuda_usable": cuda,
        "cuda_devices": [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if cuda else [],
        "numpy": numpy.__version__,
        "opencv": cv2.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnxruntime_providers": onnxruntime.get_available_providers(),
    }


def run(args) -> int:
    for key, value in environment_report().items():
        print(f"{key:24s} {value}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("doctor", help="print versions, threads and execution providers for bug reports")
    p.set_defaults(func=run)
