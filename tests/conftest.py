"""Shared fixtures. Hypothesis runs without deadlines: the test machine is shared and slow."""

import numpy as np
import pytest
from hypothesis import settings

settings.register_profile("posekit", deadline=None)
settings.load_profile("posekit")


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
