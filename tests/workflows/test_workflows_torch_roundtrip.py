"""The PyTorch backend through the same workflow interface (api spec §3, §8): train via the
dispatcher, archive, reopen, and predict identically through both loaders."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("lightning")
pytest.importorskip("ptychopinn_plugin.backends.torch.archive_codec")
pytestmark = [pytest.mark.torch, pytest.mark.slow]

from ptychopinn_plugin.config import ModelConfig, PyTorchExecutionConfig, TrainingConfig  # noqa: E402
from ptychopinn_plugin.workflows import RESULT_KEYS, load_data  # noqa: E402


def test_pytorch_train_save_load_predict(tiny_dataset_dir, tmp_path):
    from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend
    from ptychopinn_plugin.workflows.components import load_inference_bundle
    from ptychopinn_plugin.workflows.inference import current_predictor, load_predictor
    from ptychopinn_plugin.workflows.session import save_model

    cfg = TrainingConfig(model=ModelConfig(N=64, gridsize=2, n_filters_scale=1), nepochs=1, batch_size=16,
                         n_groups=64, nphotons=1e6, seed=3, backend="pytorch", output_dir=tmp_path / "logs")
    execution = PyTorchExecutionConfig(logger_backend="none", enable_checkpointing=False, accelerator="cpu")
    amp, phase, results = run_cdi_example_with_backend(
        load_data(tiny_dataset_dir / "train_data.npz"), load_data(tiny_dataset_dir / "test_data.npz"), cfg,
        do_stitching=True, torch_execution_config=execution,
    )
    assert set(results) == set(RESULT_KEYS) and results["backend"] == "pytorch"
    assert results["intensity_scale"] == pytest.approx(math.sqrt(1e6) / 32)
    container = results["test_container"]
    m = len(container)
    assert results["reconstructed_obj"].shape == (m, 64, 64, 1) and results["pred_amp"].shape == (m, 64, 64, 4)
    assert amp.ndim == 2 and amp.shape == phase.shape

    before = current_predictor()
    assert before.precision == "auto"  # what the CLI, the app and Ptychodus use (bf16 where native)
    before.precision = "32-true"  # this test is about exact round trips: compare in float32
    expected = before.predict_normalised(container.X, container.coords_nominal)
    np.testing.assert_allclose(expected, results["reconstructed_obj"], rtol=1e-5, atol=1e-6 * np.abs(expected).max())
    archive = save_model(tmp_path / "model")
    predictor, loaded = load_predictor(archive)
    assert loaded.backend == "pytorch" and predictor.backend == "pytorch"
    predictor.precision = "32-true"
    after = predictor.predict_normalised(container.X, container.coords_nominal)
    np.testing.assert_allclose(after, expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max())
    # The compatibility loader follows the archive's backend and gives the same channels-last predictor.
    shim_model, params = load_inference_bundle(tmp_path / "model")
    s = np.float32(params["intensity_scale"])
    shim_model.precision = "32-true"
    shim = shim_model.predict([container.X * s, container.local_offsets])
    np.testing.assert_allclose(shim, expected, rtol=1e-6, atol=1e-7 * np.abs(expected).max())
    with pytest.raises(ValueError, match="gridsize=2"):
        shim_model.predict([container.X[..., :1] * s, container.local_offsets[..., :1]])
