"""The spawned-child machinery: results, errors, dead children and cooperative stop.

No framework is involved (the ``selftest`` entry point and a corrupt training file fail
before TensorFlow would be imported), so each case costs one interpreter start-up.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest

pytest.importorskip("ptychodus")
pytestmark = pytest.mark.ptychodus

from ptychopinn_plugin.ptychodus._child import ChildProcessDied, ChildRun, PtychoPINNChildError  # noqa: E402

SELFTEST = "ptychopinn_plugin.ptychodus._worker:selftest"
PROMPT_S = 60.0
"""A failing child must be reported well within this (spawn + imports on a loaded 2-core box)."""


def test_result_messages_and_forwarded_logs(caplog):
    caplog.set_level(logging.INFO, logger="ptychopinn_plugin")
    with ChildRun(SELFTEST, {"mode": "ok", "value": {"a": np.arange(3)}}) as run:
        messages = list(run.messages())
        pid = run.pid
    assert len(messages) == 1 and messages[0][0] == "echo"
    np.testing.assert_array_equal(messages[0][1]["a"], np.arange(3))
    assert pid is not None and run.pid is None  # closed and joined on exit


def test_child_exception_is_raised_in_the_parent_with_its_traceback():
    start = time.monotonic()
    with ChildRun(SELFTEST, {"mode": "raise", "value": "boom"}) as run:
        with pytest.raises(ValueError, match="selftest failure requested") as info:
            list(run.messages())
    assert time.monotonic() - start < PROMPT_S
    cause = info.value.__cause__
    assert isinstance(cause, PtychoPINNChildError) and cause.child_type == "ValueError"
    assert "_worker.py" in cause.child_traceback and "selftest" in cause.child_traceback


def test_child_that_dies_without_reporting_is_an_error_not_a_hang():
    start = time.monotonic()
    with ChildRun(SELFTEST, {"mode": "exit", "value": 7}) as run:
        with pytest.raises(ChildProcessDied, match="exited with code 7") as info:
            list(run.messages())
    assert info.value.exitcode == 7
    assert time.monotonic() - start < PROMPT_S


def test_cooperative_stop_reaches_the_child():
    with ChildRun(SELFTEST, {"mode": "wait", "value": 120.0}) as run:
        messages = run.messages()
        tag, child_pid = next(messages)
        assert tag == "waiting" and child_pid == run.pid
        run.request_stop()
        assert [m[0] for m in messages] == ["stopped"]


def test_corrupt_training_file_fails_promptly_in_the_parent(small_inputs, helpers, tmp_path):
    from ptychodus.api.settings import SettingsRegistry

    from ptychopinn_plugin.ptychodus import PtychoPINNLibrary

    reconstructor = PtychoPINNLibrary(SettingsRegistry()).reconstructor("PINN")
    helpers.make_training_dir(reconstructor, small_inputs, tmp_path)
    (tmp_path / "train_data.npz").write_bytes(b"PK\x03\x04 this is not a zip archive")
    start = time.monotonic()
    with pytest.raises(ValueError, match="train_data.npz is not a readable NPZ archive"):
        list(reconstructor.train(tmp_path, tmp_path))
    assert time.monotonic() - start < PROMPT_S
    assert not reconstructor.is_model_loaded()
    assert not (tmp_path / "wts.h5.zip").exists()
