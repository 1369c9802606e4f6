"""Training recipes (ptychopinn_plugin.config.recipes): the measured recipe fills only what the
user left unset, never touches the supervised model, and 'spec' is the dataclass defaults."""

from __future__ import annotations

import pytest

from ptychopinn_plugin.config import ModelConfig, TrainingConfig, build_config
from ptychopinn_plugin.config.recipes import MEASURED_RECIPE, apply_recipe


def _config(values):
    return build_config(TrainingConfig, {"N": 64, **values})


def test_measured_recipe_fills_unset_fields():
    config = _config(apply_recipe({"nepochs": 3}, "measured"))
    assert (config.model.gridsize, config.neighbor_count) == (3, 12)
    assert (config.model.group_refine_iterations, config.model.group_refine_momentum) == (20, 0.9)
    assert config.nepochs == 3


def test_user_values_win_and_the_pool_follows_their_gridsize():
    config = _config(apply_recipe({"gridsize": 2, "group_refine_iterations": 5}, "measured"))
    assert (config.model.gridsize, config.neighbor_count, config.model.group_refine_iterations) == (2, 4, 5)
    assert config.model.group_refine_momentum == MEASURED_RECIPE["group_refine_momentum"]
    given = _config(apply_recipe({"neighbor_count": 20}, "measured"))
    assert (given.model.gridsize, given.neighbor_count) == (3, 20)


def test_spec_recipe_and_supervised_keep_the_dataclass_defaults():
    defaults = ModelConfig()
    for values, recipe in (({}, "spec"), ({"model_type": "supervised"}, "measured")):
        config = _config(apply_recipe(values, recipe))
        assert config.model.gridsize == defaults.gridsize == 1
        assert config.model.group_refine_iterations == 0
        assert config.neighbor_count == TrainingConfig.__dataclass_fields__["neighbor_count"].default


def test_unknown_recipe_is_named():
    with pytest.raises(ValueError, match="recipe = 'best' is invalid; allowed: measured, spec"):
        apply_recipe({}, "best")
