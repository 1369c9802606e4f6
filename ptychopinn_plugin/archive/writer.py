"""Write ``wts.h5.zip`` archives atomically (api spec §7.1–§7.4).

Every member is first written into a private staging directory in the system's
temporary directory (never the user's output directory, where a killed process would
leave it visible), hashed, and only then zipped (manifest first) into a temporary file
next to the destination that is moved onto it with :func:`os.replace`. A failure at any
point — a payload that cannot be serialised, a full disk — leaves neither a partial
archive nor a staging directory behind, and an existing archive at the destination is
untouched.  A process killed mid-save (``kill -9``) cannot clean up; the staging
directories and temporaries it leaves carry its process id and are removed by the next
save (:func:`ptychopinn_plugin.util.atomic.remove_stale_temporaries`).
"""

from __future__ import annotations

import logging
import math
import os
import platform
import stat
import tempfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from ptychopinn_plugin._version import __version__
from ptychopinn_plugin.archive.codec import PayloadCodec, can_derive
from ptychopinn_plugin.archive.jsonio import dumps, to_json_value
from ptychopinn_plugin.archive.layout import (
    ARCHIVE_NAME,
    BACKENDS,
    DERIVED_MODELS_KEY,
    FORMAT_NAME,
    FORMAT_VERSION,
    HISTORY_NAME,
    MANIFEST_NAME,
    PARAMS_NAME,
    PAYLOAD_FILENAMES,
    PROBE_NAME,
    REPRODUCIBILITY_NAME,
    REPRODUCIBILITY_SCHEMA,
    check_model_name,
    payload_member,
    valid_derived_models,
)
from ptychopinn_plugin.archive.params import build_params, validate_probe
from ptychopinn_plugin.archive.sources import file_sha256
from ptychopinn_plugin.config import ModelConfig, TrainingConfig, validate_model_config
from ptychopinn_plugin.util.atomic import atomic_path, remove_stale_temporaries, temporary_prefix

STAGING_NAME = "ptychopinn-archive-staging"
"""Name (in the system temporary directory) whose temporaries hold staged archive members."""

logger = logging.getLogger(__name__)


def _check_codec(codec: PayloadCodec) -> str:
    backend = getattr(codec, "backend", None)
    if backend not in BACKENDS:
        raise ValueError(f"codec backend {backend!r} is invalid; allowed: 'tensorflow' or 'pytorch'")
    if getattr(codec, "payload_filename", None) != PAYLOAD_FILENAMES[backend]:
        raise ValueError(
            f"codec payload_filename {getattr(codec, 'payload_filename', None)!r} is invalid for the "
            f"{backend} backend; expected {PAYLOAD_FILENAMES[backend]!r}"
        )
    return backend


def _check_scale(name: str, value: Any, *, finite: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValueError(f"{name} = {value!r} is invalid; expected a real number")
    value = float(value)
    if finite and not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} = {value!r} is invalid; expected a finite number > 0")
    if not math.isfinite(value):
        logger.warning("%s is %s; archiving it as the JSON token %r", name, value, to_json_value(value, name))
    return value


def _history_json(history: Mapping[str, Any]) -> dict[str, list[Any]]:
    if not isinstance(history, Mapping):
        raise ValueError(f"history must be a dict of per-epoch lists, found {type(history).__name__}")
    out = to_json_value(dict(history), "history", allow_vectors=True)
    for key, values in out.items():
        if not isinstance(values, list) or any(
            isinstance(v, bool) or not isinstance(v, (int, float, str)) for v in values
        ):
            raise ValueError(f"history[{key!r}] must be a list of numbers, found {history[key]!r}")
    return out


def build_reproducibility(record: Mapping[str, Any] | None, training_config: TrainingConfig | None,
                          codec: PayloadCodec) -> dict[str, Any]:
    """The reproducibility record stored as ``reproducibility.json``.

    Defaults: ``seed`` from ``training_config.seed``, package versions (ptychopinn,
    numpy, the codec's framework versions), Python version and platform, and an empty
    ``determinism`` object; the caller's ``record`` overrides keys (``package_versions``
    is merged) — trainers put the effective seed and their determinism flags there.
    """
    out: dict[str, Any] = {
        "schema": REPRODUCIBILITY_SCHEMA,
        "seed": training_config.seed if training_config is not None else None,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "package_versions": {"ptychopinn": __version__, "numpy": np.__version__, **codec.framework_versions()},
        "determinism": {},
    }
    for key, value in (record or {}).items():
        if key == "schema":
            continue
        if key == "package_versions" and isinstance(value, Mapping):
            out["package_versions"].update(value)
        else:
            out[key] = value
    return to_json_value(out, "reproducibility")


def _write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as handle:
        handle.write(data)


def save_archive(
    path: str | os.PathLike[str],
    *,
    models: Mapping[str, Any],
    codec: PayloadCodec,
    model_config: ModelConfig,
    training_config: TrainingConfig | None = None,
    intensity_scale: float,
    intensity_scale_trained: float,
    probe: np.ndarray,
    history: Mapping[str, Any] | None = None,
    legacy_params: Mapping[str, Any] | None = None,
    model_type: str | None = None,
    completed: bool = True,
    reproducibility: Mapping[str, Any] | None = None,
    derived_models: Mapping[str, str] | None = None,
) -> Path:
    """Write a complete archive to ``path`` atomically and return ``path``.

    ``models``: name → backend model (usually ``autoencoder`` and ``diffraction_to_obj``),
    serialised by ``codec``. ``intensity_scale`` is the training ``s`` (finite, > 0), stored
    at top level and as ``legacy['intensity_scale']``; ``intensity_scale_trained`` is
    ``exp(w_final)``. ``probe``: normalised complex probe ``(N, N)`` (``(N, N, 1)`` accepted).
    ``legacy_params``: flat legacy dict (default: derived from ``training_config``); its
    model keys are forced to ``model_config`` and array values (``probe``) are dropped.
    ``model_type`` defaults to ``model_config.model_type`` and must agree with it.
    ``completed=False`` marks an archive saved after an interrupted training.
    ``derived_models``: ``{name: source_name}`` for models whose weights are all those of
    another archived model (``{'diffraction_to_obj': 'autoencoder'}``): no payload is
    written for them and the reader rebuilds them with the codec's ``derive_model``
    (format 3.1; needs a codec with that capability).
    """
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"archive destination {path} is a directory; expected a file path")
    backend = _check_codec(codec)
    validate_model_config(model_config, require_n=True)
    model_type = model_config.model_type if model_type is None else model_type
    if model_type != model_config.model_type:
        raise ValueError(f"model_type = {model_type!r} disagrees with model_config.model_type = {model_config.model_type!r}")
    if training_config is not None:
        if training_config.model != model_config:
            raise ValueError("training_config.model differs from model_config; archive one consistent configuration")
        if training_config.backend != backend:
            raise ValueError(
                f"training_config.backend = {training_config.backend!r} but the codec writes {backend!r} payloads"
            )
    if not isinstance(models, Mapping) or not models:
        raise ValueError("models must be a non-empty dict of name → model")
    names = [check_model_name(name) for name in models]
    derived = _check_derived(derived_models, names, codec)
    if not isinstance(completed, bool):
        raise ValueError(f"completed = {completed!r} is invalid; expected True or False")
    s = _check_scale("intensity_scale", intensity_scale, finite=True)
    s_trained = _check_scale("intensity_scale_trained", intensity_scale_trained, finite=False)
    probe = validate_probe(probe, model_config.N)

    documents: dict[str, Any] = {
        PARAMS_NAME: build_params(model_config=model_config, training_config=training_config,
                                  intensity_scale=s, intensity_scale_trained=s_trained,
                                  legacy_params=legacy_params),
        REPRODUCIBILITY_NAME: build_reproducibility(reproducibility, training_config, codec),
    }
    if history is not None:
        documents[HISTORY_NAME] = _history_json(history)

    path.parent.mkdir(parents=True, exist_ok=True)
    system_tmp = Path(tempfile.gettempdir())
    remove_stale_temporaries(system_tmp, STAGING_NAME)
    with tempfile.TemporaryDirectory(prefix=temporary_prefix(STAGING_NAME), dir=system_tmp) as staging_dir:
        staging = Path(staging_dir)
        order = [PARAMS_NAME, PROBE_NAME] + [n for n in (HISTORY_NAME, REPRODUCIBILITY_NAME) if n in documents]
        for name, document in documents.items():
            _write_bytes(staging / name, dumps(document))
        with open(staging / PROBE_NAME, "xb") as handle:
            np.save(handle, probe, allow_pickle=False)
        for name in names:
            if name in derived:
                continue
            member = payload_member(name, backend)
            target = staging / member
            target.parent.mkdir()
            codec.save_model(models[name], target)
            mode = os.lstat(target).st_mode if target.exists() or target.is_symlink() else 0
            if not stat.S_ISREG(mode):
                raise ValueError(f"codec {type(codec).__name__} did not write a regular file for model {name!r} at {member}")
            order.append(member)
        files = {member: file_sha256(staging / member) for member in order}
        framework_versions = {**codec.framework_versions(), "numpy": np.__version__}
        manifest = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "backend": backend,
            "models": names,
            "model_type": model_type,
            "created_utc": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "ptychopinn_version": __version__,
            "framework_versions": to_json_value(framework_versions, "framework_versions"),
            "completed": completed,
            "files": files,
        }
        if derived:
            manifest[DERIVED_MODELS_KEY] = dict(derived)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as raw, zipfile.ZipFile(raw, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                zf.writestr(_member_info(MANIFEST_NAME), dumps(manifest))
                for member in order:
                    info = _member_info(member)
                    info.file_size = (staging / member).stat().st_size  # lets zipfile choose zip64 for > 2 GiB
                    with open(staging / member, "rb") as src, zf.open(info, "w") as dst:
                        for chunk in iter(lambda: src.read(1 << 20), b""):
                            dst.write(chunk)
                zf.close()
                raw.flush()
                os.fsync(raw.fileno())
    logger.info("saved %s model archive %s (models: %s)", backend, path, ", ".join(names))
    return path


def _check_derived(derived_models: Mapping[str, str] | None, names: list[str], codec: PayloadCodec) -> dict[str, str]:
    """Validated ``{derived name: source name}``: both archived, sources not derived themselves."""
    derived = dict(derived_models or {})
    if derived and not can_derive(codec):
        raise ValueError(f"derived_models needs a codec with derive_model; {type(codec).__name__} has none")
    if not valid_derived_models(derived, names):
        raise ValueError(
            f"derived_models = {derived!r} is invalid: each entry must map an archived model ({names}) to another "
            "archived model that has its own payload"
        )
    return derived


def _member_info(name: str) -> zipfile.ZipInfo:
    """A regular-file member (mode 0644, deflate) stamped with the current UTC time."""
    info = zipfile.ZipInfo(name, date_time=datetime.now(timezone.utc).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (stat.S_IFREG | 0o644) << 16
    return info


def save_multiple_models(models: Mapping[str, Any], base_path: str | os.PathLike[str],
                         intensity_scale: float, **archive_fields: Any) -> Path:
    """``ModelManager.save_multiple_models`` semantics (§7.4): write ``base_path + '.zip'``.

    ``archive_fields`` are the remaining keyword arguments of :func:`save_archive`
    (``codec``, ``model_config``, ``intensity_scale_trained``, ``probe``, …).
    """
    return save_archive(Path(os.fspath(base_path) + ".zip"), models=models,
                        intensity_scale=intensity_scale, **archive_fields)


def archive_path_for_prefix(out_prefix: str | os.PathLike[str]) -> Path:
    """``model_manager.save`` path rule (§7.4): ``….zip`` → that file, else ``out_prefix/wts.h5.zip``."""
    text = os.fspath(out_prefix)
    if text.endswith(".zip"):
        return Path(text)
    directory = Path(text)
    if directory.exists() and not directory.is_dir():
        raise ValueError(
            f"model output prefix {directory} exists and is not a directory; pass a directory or a path ending in .zip"
        )
    return directory / ARCHIVE_NAME


def save_to_prefix(out_prefix: str | os.PathLike[str], **archive_fields: Any) -> Path:
    """Save with the ``model_manager.save(out_prefix)`` path rule; returns the archive path."""
    return save_archive(archive_path_for_prefix(out_prefix), **archive_fields)
