"""Issue #12 item 1: ``precision = 'auto'`` picks bf16 only where the hardware computes it
natively, and the precision actually used is logged and archived."""

from __future__ import annotations

import json
import logging
import zipfile

import pytest

from ptychopinn_plugin.config import PyTorchExecutionConfig
from ptychopinn_plugin.util.hardware import choose_precision, cpu_flags, native_bf16_cpu_flags


def test_auto_is_the_default():
    assert PyTorchExecutionConfig().precision == "auto"


@pytest.mark.parametrize("flags, expected", [
    ({"sse2", "avx512f", "avx512_bf16"}, "bf16-mixed"),    # AMD EPYC Zen 4 / Intel Cooper Lake
    ({"sse2", "amx_tile", "amx_bf16"}, "bf16-mixed"),      # Intel Sapphire Rapids
    ({"sse2", "avx2", "avx512f"}, "32-true"),              # AVX-512 without bf16: emulated, slower
    (set(), "32-true"),                                    # flags unknown (not Linux)
])
def test_auto_rule_on_cpu_both_branches(flags, expected):
    precision, reason = choose_precision("auto", device="cpu", flags=flags)
    assert precision == expected
    assert reason.startswith("auto:")


def test_auto_rule_on_cuda_and_explicit_settings():
    assert choose_precision("auto", device="cuda", cuda_bf16=True)[0] == "bf16-mixed"
    assert choose_precision("auto", device="cuda", cuda_bf16=False)[0] == "32-true"
    assert choose_precision("auto", device="mps")[0] == "32-true"
    for explicit in ("32-true", "bf16-mixed", "16-mixed"):
        assert choose_precision(explicit, device="cpu", flags={"avx512_bf16"}) == (explicit, "as configured")


def test_this_machines_flags_are_read():
    flags = cpu_flags()
    assert native_bf16_cpu_flags(flags) == native_bf16_cpu_flags()
    if flags:  # Linux: every x86 CPU lists at least fpu
        assert "fpu" in flags or "fp" in flags or "neon" in flags or "asimd" in flags


@pytest.mark.slow
def test_precision_used_is_logged_and_archived(tiny_dataset_dir, tmp_path, clean_model_session):
    pytest.importorskip("torch")
    from ptychopinn_plugin.backends.torch.execution import resolve_precision
    from ptychopinn_plugin.cli.train import main as train

    class Records(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    out = tmp_path / "run"
    records = Records()
    library = logging.getLogger("ptychopinn_plugin")  # the CLI reconfigures the root logger, not this one
    library.addHandler(records)
    try:
        assert train(["--train_data_file", str(tiny_dataset_dir / "train_data.npz"), "--output_dir", str(out),
                      "--backend", "pytorch", "--n_filters_scale", "1", "--nepochs", "1", "--batch_size", "16",
                      "--nphotons", "1e6"]) == 0
    finally:
        library.removeHandler(records)
    expected, reason = resolve_precision("auto", "cpu")
    assert any(f"training precision {expected} ({reason})" in m for m in records.messages)
    with zipfile.ZipFile(out / "wts.h5.zip") as zf:
        assert json.loads(zf.read("reproducibility.json"))["precision"] == expected


def test_bf16_inference_stays_within_bf16_rounding_of_float32():
    """Issue #12 item 4: the 'auto' inference precision may be bf16; the objects it predicts
    differ from float32 by bf16 rounding only (the physics stays float32, output complex64)."""
    pytest.importorskip("torch")
    import numpy as np

    from ptychopinn_plugin.backends.torch import build_models
    from ptychopinn_plugin.backends.torch.predict import predict_objects
    from ptychopinn_plugin.config import ModelConfig

    n = 64
    yy, xx = np.mgrid[:n, :n] - n / 2
    probe = (np.exp(-(xx**2 + yy**2) / 200.0) * np.exp(0.01j * xx)).astype(np.complex64)
    _, d2o = build_models(ModelConfig(N=n, n_filters_scale=1), intensity_scale=31.25, probe=probe, seed=2)
    rng = np.random.default_rng(0)
    x = rng.random((4, n, n, 1)).astype(np.float32)
    pos = np.zeros((4, 1, 2, 1), np.float32)
    reference = predict_objects(d2o, x, pos, 31.25)
    bf16 = predict_objects(d2o, x, pos, 31.25, precision="bf16-mixed")
    assert bf16.dtype == np.complex64 and bf16.shape == reference.shape
    assert not np.array_equal(bf16, reference)  # bf16 really ran
    scale = np.max(np.abs(reference))
    assert np.max(np.abs(bf16 - reference)) <= 3e-2 * scale
    auto = predict_objects(d2o, x, pos, 31.25, precision="auto")
    expected = bf16 if native_bf16_cpu_flags() else reference
    np.testing.assert_array_equal(auto, expected)
    with pytest.raises(ValueError, match="inference precision = 'fp8' is invalid"):
        predict_objects(d2o, x, pos, 31.25, precision="fp8")
