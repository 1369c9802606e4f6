"""Fixtures for the product-file tests: small products with every optional field set."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest


def _complex(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (rng.normal(size=shape) + 1j * rng.normal(size=shape)).astype(np.complex64)


def _product_fields(seed: int = 0, m: int = 7, n: int = 16, full: bool = True) -> dict[str, Any]:
    """Keyword arguments of a Product (4-D probe, 2 layers, losses, extras when ``full``)."""
    rng = np.random.default_rng(seed)
    fields: dict[str, Any] = {
        "name": "sample-α",
        "comments": "first line\nsecond line",
        "detector_object_distance_m": 2.5,
        "photon_energy_eV": 8800.0,
        "probe_position_indexes": np.arange(10, 10 + m, dtype=np.int32),
        "probe_position_x_m": rng.uniform(-2e-7, 2e-7, m),
        "probe_position_y_m": rng.uniform(-1e-7, 1e-7, m),
        "probe": _complex(rng, (n, n)),
        "object": _complex(rng, (40, 52)),
        "object_center_x_m": 3.0e-7,
        "object_center_y_m": -1.5e-7,
        "object_pixel_width_m": 1.0e-8,
        "object_pixel_height_m": 1.25e-8,
    }
    if full:
        fields.update({
            "exposure_time_s": 0.05,
            "probe_photon_count": 1.5e7,
            "mass_attenuation_m2_per_kg": 12.5,
            "tomography_angle_deg": -30.0,
            "focus_object_distance_m": 1e-3,
            "tilt_angle_deg": 4.0,
            "far_field": False,
            "polarization": "left_circular",
            "probe_photon_counts": rng.uniform(1e3, 2e3, m),
            "probe": _complex(rng, (2, 3, n, n)),
            "probe_pixel_width_m": 2.0e-8,
            "probe_pixel_height_m": 3.0e-8,
            "opr_weights": rng.normal(size=(m, 2)),
            "object": _complex(rng, (2, 40, 52)),
            "object_layer_spacing_m": np.array([5e-6]),
            "loss_values": np.array([3.0, 2.0, 1.5, 1.25]),
            "loss_epochs": np.array([1, 2, 3, 5]),
        })
    return fields


@pytest.fixture
def product_fields() -> Callable[..., dict[str, Any]]:
    """Factory: keyword arguments for ``Product`` (see ``_product_fields``)."""
    return _product_fields


@pytest.fixture
def make_product(product_fields) -> Callable[..., Any]:
    """Factory: a validated Product; keyword overrides replace single fields."""
    from ptychopinn_plugin.io.product_model import Product

    def _make(seed: int = 0, m: int = 7, n: int = 16, full: bool = True, **overrides: Any) -> Product:
        fields = product_fields(seed=seed, m=m, n=n, full=full)
        fields.update(overrides)
        return Product(**fields)

    return _make
