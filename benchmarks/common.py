"""What every benchmark prints first: the machine and the command that produced the numbers."""

from __future__ import annotations

import os
import platform
import shlex
import sys


def machine() -> dict:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "python": platform.python_version()}


def command_line() -> str:
    return " ".join(shlex.quote(a) for a in sys.argv)


def header(title: str) -> dict:
    info = machine()
    if os.environ.get("RANK", "0") == "0":  # under torchrun, once
        print(f"# {title}")
        print(f"# command: {command_line()}")
        print("# machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    return info
