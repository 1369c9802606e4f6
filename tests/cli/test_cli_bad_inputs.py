"""Issue #15: bad input fails loudly, early, with the file named — and leaves nothing behind.

Each test reproduces one defect of the 96-case sweep of the command-line tools and checks
the new behaviour: exit code, message content and the files left.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import zipfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from ptychopinn_plugin.cli._common import EXIT_INTERRUPTED


@pytest.fixture(autouse=True)
def _clean_session(clean_model_session):
    yield


def _train_args(data: Path, out: Path, *extra: str) -> list[str]:
    return ["--train_data_file", str(data / "train_data.npz"), "--output_dir", str(out), "--backend", "pytorch",
            "--n_filters_scale", "1", "--nepochs", "1", "--batch_size", "16", "--nphotons", "1e6", "--recipe", "spec",
            *extra]


# ----------------------------------------------------------------------------- item 1: non-finite training
@pytest.mark.parametrize("value", ["1e300", "0.5", "inf"])
def test_nphotons_outside_the_sane_range_is_refused_before_any_work(tiny_dataset_dir, tmp_path, capsys, value):
    from ptychopinn_plugin.cli.train import main as train

    out = tmp_path / "out"
    args = _train_args(tiny_dataset_dir, out)
    args[args.index("--nphotons") + 1] = value
    assert train(args) == 1
    err = capsys.readouterr().err
    assert "TrainingConfig.nphotons" in err and "1e+15" in err and "photon count per diffraction pattern" in err
    assert "Traceback" not in err and "epoch 1/" not in err
    assert not out.exists()


def _poisoned_container(tiny_dataset_dir: Path, config):
    from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container, load_data

    container = create_ptycho_data_container(load_data(tiny_dataset_dir / "train_data.npz"), config)
    container.X[:, 0, 0, :] = np.nan  # every batch sees it, as an overflowing intensity scale would make it
    return container


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["pytorch", pytest.param("tensorflow", marks=pytest.mark.tf)])
def test_non_finite_loss_stops_training_and_registers_no_model(tiny_dataset_dir, backend):
    pytest.importorskip("torch" if backend == "pytorch" else "tensorflow")
    from ptychopinn_plugin.config import ModelConfig, TrainingConfig
    from ptychopinn_plugin.util.progress import NonFiniteTrainingError
    from ptychopinn_plugin.workflows.session import current_model
    from ptychopinn_plugin.workflows.training import train_cdi_model

    config = TrainingConfig(model=ModelConfig(N=64, n_filters_scale=1), nepochs=2, batch_size=16, nphotons=1e6,
                            backend=backend)
    with pytest.raises(NonFiniteTrainingError, match=r"the loss became nan at batch 1 of epoch 1; no model is saved"
                       r"[^$]*nphotons"):
        train_cdi_model(_poisoned_container(tiny_dataset_dir, config), None, config)
    assert current_model() is None


def test_a_model_with_non_finite_weights_or_scale_is_never_registered():
    pytest.importorskip("torch")
    import torch

    from ptychopinn_plugin.backends.torch.models import build_models
    from ptychopinn_plugin.config import ModelConfig
    from ptychopinn_plugin.util.progress import NonFiniteTrainingError
    from ptychopinn_plugin.workflows.backend_ops import resolve_backend
    from ptychopinn_plugin.workflows.training import _require_finite_model

    ops = resolve_backend("pytorch")
    probe = np.ones((64, 64), np.complex64)
    autoencoder, _ = build_models(ModelConfig(N=64, n_filters_scale=1), intensity_scale=31.25, probe=probe, seed=1)
    healthy = SimpleNamespace(autoencoder=autoencoder, intensity_scale=31.25, intensity_scale_trained=31.0)
    _require_finite_model(ops, healthy)  # no error
    with pytest.raises(NonFiniteTrainingError, match="intensity_scale_trained = nan"):
        _require_finite_model(ops, SimpleNamespace(**{**vars(healthy), "intensity_scale_trained": float("nan")}))
    name, weight = next((n, p) for n, p in autoencoder.named_parameters() if p.ndim == 4)
    with torch.no_grad():
        weight[0, 0, 0, 0] = float("inf")
    assert ops.non_finite_weights(autoencoder) == [name]
    with pytest.raises(NonFiniteTrainingError, match=f"NaN/Inf in the weights {name}"):
        _require_finite_model(ops, healthy)


@pytest.mark.slow
def test_inference_refuses_to_write_a_non_finite_reconstruction(tiny_dataset_dir, tmp_path, capsys):
    pytest.importorskip("torch")
    import torch

    from ptychopinn_plugin.cli.train import main as train
    from ptychopinn_plugin.config import InferenceConfig
    from ptychopinn_plugin.workflows.data_prep import load_data
    from ptychopinn_plugin.workflows.inference import NonFiniteReconstructionError, load_predictor, reconstruct

    assert train(_train_args(tiny_dataset_dir, tmp_path / "model", "--quiet")) == 0
    archive = tmp_path / "model" / "wts.h5.zip"
    predictor, loaded = load_predictor(archive)
    with torch.no_grad():
        next(p for p in predictor.model.parameters() if p.ndim == 4).fill_(float("nan"))
    config = InferenceConfig(model=loaded.model_config, model_path=archive,
                             test_data_file=tiny_dataset_dir / "test_data.npz", output_dir=tmp_path / "inferred")
    with pytest.raises(NonFiniteReconstructionError, match=r"non-finite reconstruction \(\d+ of \d+ pixels"):
        reconstruct(predictor, load_data(config.test_data_file), config)


# ----------------------------------------------------------------------------- item 2: outputs checked first
def test_output_dir_that_is_a_file_fails_before_loading_or_training(tiny_dataset_dir, tmp_path, capsys):
    from ptychopinn_plugin.cli.infer import main as infer
    from ptychopinn_plugin.cli.train import main as train

    blocker = tmp_path / "results"
    blocker.write_text("not a directory")
    assert train(_train_args(tiny_dataset_dir, blocker)) == 1
    err = capsys.readouterr().err
    assert f"--output_dir {blocker} exists and is not a directory" in err and "epoch 1/" not in err
    assert train(_train_args(tiny_dataset_dir, blocker / "sub")) == 1
    assert f"{blocker} is a file, not a directory" in capsys.readouterr().err

    model_dir = tmp_path / "no-model-needed"  # the output check comes before the archive is decoded
    model_dir.mkdir()
    assert infer(["--model_path", str(model_dir), "--test_data", str(tiny_dataset_dir / "test_data.npz"),
                  "--output_dir", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert "exists and is not a directory" in err or "no model archive found" in err
    assert "Errno 17" not in err
    assert blocker.read_text() == "not a directory"


def test_check_output_dir_accepts_new_and_existing_directories(tmp_path):
    from ptychopinn_plugin.cli._common import check_output_dir

    assert check_output_dir(tmp_path) == tmp_path
    assert check_output_dir(tmp_path / "a" / "b") == tmp_path / "a" / "b"
    assert not (tmp_path / "a").exists()  # nothing created by the check


# ----------------------------------------------------------------------------- item 3: exit codes
@pytest.mark.slow
def test_ctrl_c_saves_the_model_as_incomplete_and_exits_130(tiny_dataset_dir, tmp_path, capsys):
    pytest.importorskip("torch")
    from ptychopinn_plugin.cli.train import main as train

    out = tmp_path / "stopped"
    args = _train_args(tiny_dataset_dir, out)
    args[args.index("--nepochs") + 1] = "4"
    handler = _InterruptOnMessage("epoch 1/")
    logging.getLogger("ptychopinn_plugin").addHandler(handler)
    try:
        code = train(args)
    finally:
        logging.getLogger("ptychopinn_plugin").removeHandler(handler)
    assert handler.sent and code == EXIT_INTERRUPTED == 130
    err = capsys.readouterr().err
    assert "stopped by Ctrl-C; the model was saved, marked incomplete (exit 130)" in err
    with zipfile.ZipFile(out / "wts.h5.zip") as zf:
        assert json.loads(zf.read("manifest.json"))["completed"] is False


class _InterruptOnMessage(logging.Handler):
    """Sends this process a real SIGINT when a log message containing ``text`` is emitted."""

    def __init__(self, text: str) -> None:
        super().__init__(logging.INFO)
        self.text = text
        self.sent = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.sent and self.text in record.getMessage():
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_while_data_load_stops_before_training_and_saves_nothing(tiny_dataset_dir, tmp_path, capsys):
    from ptychopinn_plugin.cli.train import main as train

    out = tmp_path / "never"
    args = _train_args(tiny_dataset_dir, out)
    handler = _InterruptOnMessage("taken from the header of")  # logged right before the data are loaded
    logging.getLogger("ptychopinn_plugin").addHandler(handler)
    try:
        code = train(args)
    finally:
        logging.getLogger("ptychopinn_plugin").removeHandler(handler)
    assert handler.sent and code == EXIT_INTERRUPTED
    err = capsys.readouterr().err
    assert "interrupted" in err and "epoch 1/" not in err
    assert not out.exists()


def test_readme_documents_the_exit_codes():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    for code in ("`0`", "`1`", "`2`", "`130`"):
        assert code in readme.split("## Exit codes")[1].split("\n## ")[0]


# ----------------------------------------------------------------------------- item 5: integer counts
def test_integer_data_read_as_amplitude_warn_loudly_with_the_override(caplog):
    from ptychopinn_plugin.data.validation import to_amplitude

    counts = np.full((2, 64, 64), 9, dtype=np.int64)
    with caplog.at_level(logging.WARNING):
        amplitude = to_amplitude(counts, "amplitude", source="scan.npz")
    assert float(amplitude[0, 0, 0]) == 9.0  # the domain asked for is honoured…
    message = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert "scan.npz" in message and "int64" in message and "read as AMPLITUDE" in message  # …loudly
    assert "--diffraction_domain intensity" in message
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert float(to_amplitude(counts, "intensity", source="scan.npz")[0, 0, 0]) == 3.0
    assert not [r for r in caplog.records if "read as AMPLITUDE" in r.getMessage()]


# ----------------------------------------------------------------------------- item 7: messages
def test_unsupported_pattern_size_names_the_file(tmp_path, capsys):
    from ptychopinn_plugin.cli.train import main as train
    from ptychopinn_plugin.data.npz_io import write_npz

    for n in (32, 100):
        path = tmp_path / f"n{n}.npz"
        write_npz(path, {"diffraction": np.ones((4, n, n), np.float32), "xcoords": np.arange(4.0),
                         "ycoords": np.arange(4.0), "probeGuess": np.ones((n, n), np.complex64)})
        assert train(["--train_data_file", str(path), "--output_dir", str(tmp_path / "o")]) == 1
        err = capsys.readouterr().err
        assert f"{path}: the diffraction patterns are {n}×{n}" in err and "64, 128, 256" in err
        assert "ModelConfig.N" not in err


def test_data_size_mismatch_with_the_model_names_the_file(tiny_dataset_dir):
    from ptychopinn_plugin.config import ModelConfig, TrainingConfig
    from ptychopinn_plugin.workflows.data_prep import create_ptycho_data_container, load_data

    path = tiny_dataset_dir / "train_data.npz"
    with pytest.raises(ValueError, match=f"{path}: the diffraction patterns are 64×64 but the model needs N = 128"):
        create_ptycho_data_container(load_data(path), TrainingConfig(model=ModelConfig(N=128)))


def test_yaml_duplicate_keys_and_bad_model_section_are_refused(tmp_path):
    from ptychopinn_plugin.config import build_config, load_yaml_config
    from ptychopinn_plugin.config import TrainingConfig

    duplicate = tmp_path / "dup.yaml"
    duplicate.write_text("nepochs: 3\nbatch_size: 8\nnepochs: 50\n")
    with pytest.raises(ValueError, match=f"configuration file {duplicate}: key 'nepochs' appears twice "
                                         r"\(lines 1 and 3\)"):
        load_yaml_config(duplicate)
    nested = tmp_path / "nested.yaml"
    nested.write_text("model:\n  N: 64\n  gridsize: 1\n  N: 128\n")
    with pytest.raises(ValueError, match=r"key 'N' appears twice \(lines 2 and 4\)"):
        load_yaml_config(nested)

    with pytest.raises(ValueError, match="'model' must be a mapping of ModelConfig fields"):
        build_config(TrainingConfig, {"model": 64})
    with pytest.raises(ValueError, match="unknown ModelConfig field\\(s\\) under 'model:': n_filter_scale"):
        build_config(TrainingConfig, {"model": {"n_filter_scale": 1}})


def test_evaluate_errors_name_the_file_and_the_key(tiny_dataset_dir, tmp_path, capsys):
    from ptychopinn_plugin.cli.evaluate import main as evaluate
    from ptychopinn_plugin.data.npz_io import write_npz

    truth = str(tiny_dataset_dir / "test_data.npz")
    text = tmp_path / "notes.npz"
    text.write_text("this is a text file\n")
    assert evaluate(["--reconstruction", str(text), "--ground-truth", truth, "--output-dir", str(tmp_path / "m")]) == 1
    err = capsys.readouterr().err
    assert f"{text} is not an NPZ archive" in err and "text" in err and "pickle" not in err

    broken = tmp_path / "recon.npz"
    obj = np.ones((100, 100), np.complex64)
    obj[5, 5] = np.nan
    write_npz(broken, {"object": obj})
    assert evaluate(["--reconstruction", str(broken), "--ground-truth", truth, "--output-dir", str(tmp_path / "m")]) == 1
    assert f"{broken}: key 'object' holds 1 NaN/Inf value(s) of 10000" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()


def test_interrupt_stop_always_restores_a_working_ctrl_c(monkeypatch):
    """After the stop-and-keep window Ctrl-C must raise KeyboardInterrupt again, even when the
    handler found on entry was installed by C code (``signal.signal`` then returns None)."""
    import ptychopinn_plugin.cli._common as common

    calls = []
    real_signal = common.signal.signal

    def fake_signal(signum, handler):
        calls.append(handler)
        real_signal(signum, handler)
        return None  # "not installed from Python"

    monkeypatch.setattr(common.signal, "signal", fake_signal)
    with common.InterruptStop("prog", "stopping") as stop:
        assert not stop.requested()
    monkeypatch.undo()
    assert calls[-1] is signal.default_int_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
