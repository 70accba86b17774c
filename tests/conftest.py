"""Shared fixtures. Hypothesis runs without deadlines: the test machine is shared and slow.

Torch runs on one thread in tests: the models under test are small, they step faster on one thread
than on two, and far faster when the machine is busy (a DataLoader worker or another process).
"""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import settings

torch.set_num_threads(1)
sys.path.insert(0, str(Path(__file__).parent))  # shared test helpers (official_keys); --import-mode=importlib

settings.register_profile("posekit", deadline=None)
settings.load_profile("posekit")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
