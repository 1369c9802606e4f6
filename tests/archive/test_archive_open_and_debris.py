"""Issue #15 items 4 and 6: every payload is verified at open, and a killed save leaves no
debris that later saves keep (the previous archive survives, as before)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ptychopinn_plugin.archive import load_archive, save_archive
from ptychopinn_plugin.util.atomic import LEGACY_STALE_SECONDS, remove_stale_temporaries


# ----------------------------------------------------------------------------- item 6
def test_a_substituted_payload_that_was_not_asked_for_is_still_refused(saved_archive, tmp_path, codec, kit):
    """Replacing autoencoder's payload (checksums recomputed) used to go unnoticed by a caller
    that loads only diffraction_to_obj."""
    hostile = kit.rezip(saved_archive, tmp_path / "hostile.zip", replace={"autoencoder/model.pt": b"not npz"})
    with pytest.raises(ValueError) as err:
        load_archive(hostile, codec, model_names=["diffraction_to_obj"])
    message = str(err.value)
    assert str(hostile) in message and "archive member 'autoencoder/model.pt' (model 'autoencoder')" in message
    # the intact archive still loads just the model asked for
    loaded = load_archive(saved_archive, codec, model_names=["diffraction_to_obj"])
    assert list(loaded.models) == ["diffraction_to_obj"]


def test_a_payload_with_the_wrong_shapes_names_the_archive_and_the_model(saved_archive, tmp_path, codec, kit):
    import io

    import numpy as np

    wrong = io.BytesIO()
    np.savez(wrong, kernel=np.zeros((32, 32, 1), np.float32), bias=np.zeros(1, np.float32))
    hostile = kit.rezip(saved_archive, tmp_path / "wrong.zip", replace={"autoencoder/model.pt": wrong.getvalue()})
    with pytest.raises(ValueError, match=r"model 'autoencoder' does not match N = 64"):
        load_archive(hostile, codec, model_names=["diffraction_to_obj"])


# ----------------------------------------------------------------------------- item 4
_SLOW_SAVE = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from archive.conftest import NpzWeightsCodec, tiny_model, test_probe
    from ptychopinn_plugin.archive import save_archive
    from ptychopinn_plugin.config import ModelConfig

    class HangingCodec(NpzWeightsCodec):
        def save_model(self, model, path):
            super().save_model(model, path)
            Path({ready!r}).write_text("staged")
            time.sleep(120)  # killed here, in the middle of the save

    save_archive({dest!r}, models={{"autoencoder": tiny_model(64, 1, 1), "diffraction_to_obj": tiny_model(64, 1, 2)}},
                 codec=HangingCodec(), model_config=ModelConfig(N=64, n_filters_scale=1), intensity_scale=31.25,
                 intensity_scale_trained=31.25, probe=test_probe(64))
""")


def test_kill_9_during_a_save_keeps_the_old_archive_and_the_next_save_clears_the_debris(
        tmp_path, archive_fields, sandbox_tmp):
    out = tmp_path / "out"
    previous = save_archive(out / "wts.h5.zip", **archive_fields())
    before = previous.read_bytes()
    ready = tmp_path / "ready"
    script = _SLOW_SAVE.format(tests=str(Path(__file__).resolve().parents[1]), ready=str(ready),
                               dest=str(previous))
    child = subprocess.Popen([sys.executable, "-c", script], env={**os.environ, "TMPDIR": str(sandbox_tmp)})
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, "the saving process ended early"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    assert previous.read_bytes() == before  # the previous archive survives
    assert [p.name for p in out.iterdir()] == ["wts.h5.zip"]  # the user's directory shows no staging
    debris = list(sandbox_tmp.iterdir())
    assert debris and all(f".{child.pid}." in p.name for p in debris)  # it sits in the system temp dir

    (out / f".wts.h5.zip.{child.pid}.abcd1234.tmp").write_bytes(b"half a zip")  # as a kill during zipping leaves
    save_archive(out / "wts.h5.zip", **archive_fields())
    assert [p.name for p in out.iterdir()] == ["wts.h5.zip"]
    assert list(sandbox_tmp.iterdir()) == []


def test_stale_sweep_spares_live_writers_and_recent_old_style_names(tmp_path):
    live = tmp_path / f".wts.h5.zip.{os.getpid()}.x1y2z3.tmp"
    live.write_bytes(b"")
    old_style_recent = tmp_path / ".wts.h5.zip.a1b2c3d4.tmp"
    old_style_recent.write_bytes(b"")
    old_style_stale = tmp_path / ".wts.h5.zip.staging-q1w2e3"
    old_style_stale.mkdir()
    (old_style_stale / "model.pt").write_bytes(b"x" * 100)
    aged = time.time() - LEGACY_STALE_SECONDS - 60
    os.utime(old_style_stale, (aged, aged))
    unrelated = tmp_path / ".other.npz.1.a.tmp"
    unrelated.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path, "wts.h5.zip") == [old_style_stale]
    assert live.exists() and old_style_recent.exists() and unrelated.exists()
