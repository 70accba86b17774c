"""Weight EMA (MMPose's ExpMomentumEMA): follows the model at first, then averages at `momentum`."""

import math

import pytest
import torch

from posekit.engine.ema import ModelEMA
from posekit.engine.recipe import load_recipe
from posekit.engine.trainer import Trainer


def test_the_momentum_decays_from_one_to_its_floor_over_gamma_steps():
    model = torch.nn.Linear(1, 1, bias=False)
    model.weight.data.fill_(0.5)  # a random start could put an average near 0, where rel=1e-5 is no tolerance
    ema = ModelEMA(model, momentum=0.1, gamma=5.0)
    expected = float(model.weight)
    for step, value in enumerate([3.0, -1.0, 2.0] + [1.0] * 40):
        model.weight.data.fill_(value)
        ema.update(model)
        m = 0.9 * math.exp(-(1 + step) / 5.0) + 0.1
        expected = (1 - m) * expected + m * value
        assert float(ema.module.weight) == pytest.approx(expected, rel=1e-5)
    assert float(ema.module.weight) == pytest.approx(1.0, abs=1e-2)


def test_the_recipe_sets_the_ema_momentum_and_gamma(tmp_path, write_tiny_recipe):
    recipe = load_recipe(write_tiny_recipe(tmp_path), [f"out={tmp_path}/run", "ema=true", "ema_momentum=0.005",
                                                      "ema_gamma=100"])
    ema = Trainer(recipe, quiet=True).ema
    assert (ema.momentum, ema.gamma) == (0.005, 100.0)
