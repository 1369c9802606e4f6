"""The TensorFlow payload codec through the archive: real Keras models round trip."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

pytest.importorskip("keras")

from ptychopinn_plugin.archive import load_archive, read_manifest_only, save_archive  # noqa: E402
from ptychopinn_plugin.config import ModelConfig  # noqa: E402

pytestmark = pytest.mark.tf


@pytest.fixture(scope="module")
def tf_models():
    from ptychopinn_plugin.backends.tf import build_models

    cfg = ModelConfig(N=64, gridsize=1, n_filters_scale=1)
    yy, xx = np.mgrid[:64, :64] - 31.5
    probe = np.exp(-(xx**2 + yy**2) / (2 * 8.0**2)).astype(np.complex64)
    autoencoder, diffraction_to_obj = build_models(cfg, intensity_scale=31.25, probe=probe, seed=3)
    return cfg, probe, autoencoder, diffraction_to_obj


def test_keras_payload_round_trip(tmp_path, tf_models, sandbox_tmp):
    from ptychopinn_plugin.backends.tf.archive_codec import KerasPayloadCodec

    cfg, probe, autoencoder, diffraction_to_obj = tf_models
    codec = KerasPayloadCodec()
    path = save_archive(
        tmp_path / "wts.h5.zip", models={"autoencoder": autoencoder, "diffraction_to_obj": diffraction_to_obj},
        codec=codec, model_config=cfg, intensity_scale=31.25, intensity_scale_trained=31.25, probe=probe,
    )
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert zipfile.is_zipfile(zf.open("diffraction_to_obj/model.keras"))  # native .keras (itself a zip)
    import keras
    import tensorflow as tf

    assert manifest["backend"] == "tensorflow"
    assert manifest["framework_versions"]["tensorflow"] == tf.__version__
    assert manifest["framework_versions"]["keras"] == keras.__version__
    assert read_manifest_only(path, expected_backend="tensorflow").N == 64

    loaded = load_archive(path, codec, expected_backend="tensorflow")  # both models pass verify_model
    assert list(sandbox_tmp.iterdir()) == []  # payload temp files removed, model still usable
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (2, 64, 64, 1)).astype(np.float32)
    r = rng.uniform(-2, 2, (2, 1, 2, 1)).astype(np.float32)
    expected = diffraction_to_obj.predict([x, r], verbose=0)
    actual = loaded.models["diffraction_to_obj"].predict([x, r], verbose=0)
    assert actual.shape == (2, 64, 64, 1) and actual.dtype == np.complex64
    np.testing.assert_array_equal(actual, expected)


def test_keras_shape_check_against_params(tmp_path, tf_models):
    from ptychopinn_plugin.backends.tf.archive_codec import KerasPayloadCodec

    cfg, probe, _autoencoder, diffraction_to_obj = tf_models
    wrong = ModelConfig(N=64, gridsize=2, n_filters_scale=1)  # archive claims gridsize 2
    path = save_archive(tmp_path / "wts.h5.zip", models={"diffraction_to_obj": diffraction_to_obj},
                        codec=KerasPayloadCodec(), model_config=wrong, intensity_scale=31.25,
                        intensity_scale_trained=31.25, probe=probe)
    with pytest.raises(ValueError, match=r"model 'diffraction_to_obj'.*input shapes.*\(None, 64, 64, 1\).*\(None, 64, 64, 4\)"):
        load_archive(path, KerasPayloadCodec())


def test_resnet_architecture_round_trips_through_a_keras_archive(tmp_path, sandbox_tmp):
    """The 'resnet' generator's custom layers (LogInput, AddCoords) load with safe_mode."""
    from ptychopinn_plugin.backends.tf import build_models
    from ptychopinn_plugin.backends.tf.archive_codec import KerasPayloadCodec

    cfg = ModelConfig(N=64, gridsize=2, n_filters_scale=1, architecture="resnet")
    yy, xx = np.mgrid[:64, :64] - 31.5
    probe = np.exp(-(xx**2 + yy**2) / (2 * 8.0**2)).astype(np.complex64)
    autoencoder, diffraction_to_obj = build_models(cfg, intensity_scale=31.25, probe=probe, seed=3)
    codec = KerasPayloadCodec()
    path = save_archive(
        tmp_path / "wts.h5.zip", models={"autoencoder": autoencoder, "diffraction_to_obj": diffraction_to_obj},
        codec=codec, model_config=cfg, intensity_scale=31.25, intensity_scale_trained=31.25, probe=probe,
    )
    loaded = load_archive(path, codec, expected_backend="tensorflow")
    assert loaded.model_config.architecture == "resnet"
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, (2, 64, 64, 4)).astype(np.float32)
    r = rng.uniform(-2, 2, (2, 1, 2, 4)).astype(np.float32)
    np.testing.assert_array_equal(loaded.models["diffraction_to_obj"].predict([x, r], verbose=0),
                                  diffraction_to_obj.predict([x, r], verbose=0))
