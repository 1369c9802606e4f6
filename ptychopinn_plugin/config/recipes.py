"""Training recipes: named sets of defaults layered under the user's own values.

Why: the dataclass defaults are the specification's network and forward model (the
Ptychodus settings and old archives depend on them), and on a CPU budget that model does
not reconstruct an unseen object (docs/benchmarks.md, "Quality analysis").  The measured
recipe — groups of 3×3 patterns refined by 20 error-reduction iterations with momentum
inside the model — does (held-out 0.88–0.89 / 0.97 on the built-in sample after 1.5–4
training minutes, docs/benchmarks.md "Group refinement with momentum and gridsize 3").  A
recipe only fills fields the user did not set (command line or YAML); anything given wins.
"""

from __future__ import annotations

from typing import Any, Mapping

from ptychopinn_plugin.config.model_config import neighbour_pool_for

__all__ = ["MEASURED_RECIPE", "RECIPES", "apply_recipe"]

_MEASURED_GRIDSIZE = 3

MEASURED_RECIPE: Mapping[str, Any] = {
    "gridsize": _MEASURED_GRIDSIZE,
    "neighbor_count": neighbour_pool_for(_MEASURED_GRIDSIZE),  # 12
    "group_refine_iterations": 20,
    "group_refine_momentum": 0.9,
    "enable_oversampling": True,
}
"""The measured recipe (issue #11, session 9): what the desktop app and ``ptychopinn-train``
start from.  ``enable_oversampling``: at gridsize > 1 the default ``n_groups`` (512) exceeds
the positions of a small scan (the built-in sample has 256), which data spec §2.2 refuses
without oversampling; with it, extra groups are further random draws of 9 of the 12 nearest
neighbours."""

RECIPES = ("measured", "spec")
"""``measured``: :data:`MEASURED_RECIPE` under the user's values; ``spec``: the dataclass
defaults (physics_and_model.md, ptychodus_api_spec.md) unchanged."""


def apply_recipe(values: Mapping[str, Any], recipe: str) -> dict[str, Any]:
    """``values`` (flat TrainingConfig/ModelConfig fields the user gave) completed by ``recipe``.

    The supervised model keeps the spec's defaults (it needs gridsize 1).  The neighbour pool
    follows the gridsize in effect, the user's or the recipe's (:func:`neighbour_pool_for`:
    12 at the recipe's 3, 4 at a user's gridsize 2).
    """
    if recipe not in RECIPES:
        raise ValueError(f"recipe = {recipe!r} is invalid; allowed: {', '.join(RECIPES)}")
    merged = dict(values)
    if recipe == "spec" or merged.get("model_type", "pinn") != "pinn":
        return merged
    defaults = dict(MEASURED_RECIPE)
    defaults["neighbor_count"] = neighbour_pool_for(int(merged.get("gridsize", defaults["gridsize"])))
    for field, value in defaults.items():
        merged.setdefault(field, value)
    return merged
