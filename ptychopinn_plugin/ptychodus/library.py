"""Our Ptychodus reconstructor library: ``PtychoPINNLibrary`` with 'PINN' and 'Supervised'.

Implements the Ptychodus 1.7 ``TrainableReconstructor`` API exactly as api spec §5.2
tabulates it.  The parent (Ptychodus) side is NumPy-only: every training and every
reconstruction runs in a spawned child (:mod:`._child`, entry points in
:mod:`._worker`); archives are validated here with JSON only (``read_manifest_only``),
so a bad file is reported at once, without importing a framework.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any, Iterator, Optional

from ptychopinn_plugin.archive import ARCHIVE_NAME, ArchiveInfo, copy_archive, read_manifest_only
from ptychopinn_plugin.io.product_convert import provenance_note
from ptychopinn_plugin.ptychodus._child import ChildRun
from ptychopinn_plugin.ptychodus._jobs import (
    TAG_EPOCH,
    TAG_RECONSTRUCTED,
    TAG_TRAINED,
    TEST_FILE,
    TRAIN_FILE,
    ReconstructJob,
    TrainJob,
)
from ptychopinn_plugin.ptychodus._ptychodus_api import (
    LossValue,
    ReconstructInput,
    ReconstructOutput,
    Reconstructor,
    ReconstructorLibrary,
    SettingsRegistry,
    TrainableReconstructor,
    TrainOutput,
)
from ptychopinn_plugin.ptychodus.conversion import (
    check_square_patterns,
    create_raw_data,
    export_training_data,
    losses_from_history,
    output_product,
    raw_data_arrays,
)
from ptychopinn_plugin.ptychodus.settings import PtychoPINNSettings

logger = logging.getLogger(__name__)

__all__ = ["LIBRARY_NAME", "LOGGER_NAME", "PtychoPINNLibrary", "PtychoPINNReconstructor"]

LIBRARY_NAME = "PtychoPINN (ptychopinn)"
LOGGER_NAME = "ptychopinn_plugin"
"""Logger Ptychodus attaches its task-monitor handler to (records forwarded from the
children keep their ``ptychopinn_plugin.*`` names and propagate here)."""
MODEL_FILE_FILTER = "Zipped Archive (*.zip)"
MODEL_FILE_EXTENSION = ".zip"
TRAINING_DATA_FILE_FILTER = "NumPy Zipped Archive (*.npz)"
NO_MODEL_MESSAGE = "no PtychoPINN model loaded: train one (Train) or open one (Load Model…) first"

_TRAIN_ENTRY = "ptychopinn_plugin.ptychodus._worker:train"
_RECONSTRUCT_ENTRY = "ptychopinn_plugin.ptychodus._worker:reconstruct"
_MODEL_TYPES = {"PINN": "pinn", "Supervised": "supervised"}


class PtychoPINNReconstructor(TrainableReconstructor):
    """One of our reconstructors ('PINN' or 'Supervised'); settings are shared by both."""

    def __init__(self, name: str, settings: PtychoPINNSettings) -> None:
        super().__init__()
        if name not in _MODEL_TYPES:
            raise ValueError(f"reconstructor name {name!r} is invalid; allowed: {', '.join(_MODEL_TYPES)}")
        self._name = name
        self.model_type = _MODEL_TYPES[name]
        self.settings = settings
        self._archive: Optional[Path] = None
        self._info: Optional[ArchiveInfo] = None
        self._progress_goal = 1
        self._lock = threading.Lock()
        self._active: Optional[ChildRun] = None

    # ------------------------------------------------------------------ identity
    @property
    def name(self) -> str:
        return self._name

    def get_name(self) -> str:  # Ptychodus <= 1.1 spelling
        return self._name

    def get_progress_goal(self) -> int:
        """Epochs while training (the NumEpochs setting), 1 for a reconstruction."""
        return self._progress_goal

    # ------------------------------------------------------------------ model file
    @property
    def archive_path(self) -> Optional[Path]:
        """The loaded model (as given to ``load_model_from_file`` or written by training)."""
        return self._archive

    @property
    def archive_info(self) -> Optional[ArchiveInfo]:
        return self._info

    def is_model_loaded(self) -> bool:
        return self._archive is not None

    def get_model_file_filter(self) -> str:
        return MODEL_FILE_FILTER

    def get_model_file_extension(self) -> str:
        return MODEL_FILE_EXTENSION

    def load_model_from_file(self, file_path: str | os.PathLike[str]) -> None:
        """Accept ``wts.h5.zip`` (any name), a directory holding it, or an outer zip holding it.

        The archive is fully validated here with JSON/NumPy only (api spec §7.5: safety,
        manifest, checksums), so errors surface immediately; the model itself is decoded
        by each reconstruction child.
        """
        path = Path(file_path)
        info = read_manifest_only(path)
        if info.form == "zip" and path.name != ARCHIVE_NAME:
            logger.warning("model file %s is not named %s; loading it anyway", path, ARCHIVE_NAME)
        if info.model_type != self.model_type:
            logger.warning("%s reconstructor: %s holds a %r model", self._name, path, info.model_type)
        if not info.completed:
            logger.warning("%s holds a model whose training was stopped early (completed = false)", path)
        self._archive, self._info = path, info
        logger.info("loaded %s %s model from %s (N=%d, gridsize=%d)", info.backend, info.model_type, path, info.N,
                    info.gridsize)

    def open_model(self, file_path: str | os.PathLike[str]) -> None:  # Ptychodus <= 1.1 spelling
        self.load_model_from_file(file_path)

    def save_model(self, file_path: str | os.PathLike[str]) -> None:
        """Byte copy of the loaded archive to ``file_path`` (a directory → ``file_path/wts.h5.zip``)."""
        if self._archive is None:
            raise RuntimeError(f"cannot save: {NO_MODEL_MESSAGE}")
        written = copy_archive(self._archive, file_path)
        logger.info("saved PtychoPINN model to %s", written)

    # ------------------------------------------------------------------ training data
    def get_training_data_file_filter(self) -> str:
        return TRAINING_DATA_FILE_FILTER

    def export_training_data(self, file_path: str | os.PathLike[str], parameters: ReconstructInput) -> None:
        """Write the data-spec §5.2 NPZ (NumPy only, in this process)."""
        export_training_data(file_path, parameters, self.settings.diffraction_domain)

    # ------------------------------------------------------------------ control
    def is_busy(self) -> bool:
        """Whether a training or reconstruction child process is running now."""
        with self._lock:
            active = self._active
        return active is not None and active.is_alive()

    def request_stop(self) -> None:
        """Stop the running training after its current batch (it still saves its model).

        Ptychodus stops a training by closing the ``train`` iterator, which does the same.
        """
        with self._lock:
            active = self._active
        if active is not None:
            active.request_stop()

    def _start(self, entry: str, job: Any) -> ChildRun:
        run = ChildRun(entry, job)
        with self._lock:
            if self._active is not None:
                raise RuntimeError(f"{self._name}: a PtychoPINN job is already running")
            self._active = run
        try:
            run.__enter__()
        except BaseException:
            with self._lock:
                self._active = None
            raise
        return run

    def _finish(self, run: ChildRun) -> None:
        with self._lock:
            if self._active is run:
                self._active = None
        run.close()

    # ------------------------------------------------------------------ reconstruct
    def reconstruct(self, parameters: ReconstructInput) -> Iterator[ReconstructOutput]:
        """Api spec §5.2: one ``ReconstructOutput(product, progress=1)`` from the loaded model."""
        self._progress_goal = 1
        check_square_patterns(parameters)
        archive, info = self._archive, self._info
        if archive is None or info is None:
            raise RuntimeError(NO_MODEL_MESSAGE)
        settings = self.settings
        if self.model_type == "pinn" and settings.gridsize != info.gridsize:
            logger.warning("GridSize setting is %d but the loaded model was trained with gridsize %d; using %d",
                           settings.gridsize, info.gridsize, info.gridsize)
        raw = create_raw_data(parameters, settings.diffraction_domain)
        if raw.N != info.N:
            raise ValueError(f"the loaded model was trained on {info.N}×{info.N} patterns but Ptychodus passed "
                             f"{raw.N}×{raw.N} patterns")
        execution = settings.execution_config()
        job = ReconstructJob(
            archive=archive,
            inference_config=settings.inference_config(info.model_config, backend=info.backend, model_path=archive),
            arrays=raw_data_arrays(raw),
            # api spec §2.6: no inference batch size → the model's training batch size.
            batch_size=execution.inference_batch_size
            or (info.training_config.batch_size if info.training_config is not None else 32),
            device=execution.accelerator,
        )
        del raw
        result: Optional[tuple[Any, ...]] = None
        run = self._start(_RECONSTRUCT_ENTRY, job)
        try:
            for message in run.messages():
                if message[0] == TAG_RECONSTRUCTED:
                    result = message
        finally:
            self._finish(run)
        if result is None:
            raise RuntimeError("the PtychoPINN reconstruction child ended without a result")
        _, image, com_xy, n_groups = result
        note = provenance_note(backend=info.backend, archive_sha256=info.archive_sha256 or info.manifest_sha256,
                               model_type=info.model_type, groups=n_groups)
        product = output_product(parameters.product, image, com_xy, losses=losses_from_history(info.history),
                                 comments_note=note)
        yield ReconstructOutput(product=product, progress=1)

    # ------------------------------------------------------------------ train
    def train(self, input_path: str | os.PathLike[str], output_path: str | os.PathLike[str]) -> Iterator[TrainOutput]:
        """Api spec §5.2: train on ``input_path`` (data §5.1), write to ``output_path``.

        Yields a ``TrainOutput`` after every epoch (cumulative loss curves, ``progress`` =
        epochs done) and a final one; then the new archive is the loaded model.  Closing
        the iterator early (Ptychodus's stop) asks the child to stop after its current
        batch and waits until it has saved the archive (``completed: false``).
        """
        input_dir, output_dir = Path(input_path), Path(output_path)
        self._progress_goal = self.settings.nepochs
        for name in (TRAIN_FILE, TEST_FILE):
            if not (input_dir / name).is_file():
                raise FileNotFoundError(f"training data not found: expected {input_dir / name} (a training "
                                        f"directory holds {TRAIN_FILE} and {TEST_FILE}, written by "
                                        "'Export Training Data…')")
        settings = self.settings
        config = settings.training_config(self.model_type, input_dir=input_dir, output_dir=output_dir)
        job = TrainJob(
            training_config=config,
            input_dir=input_dir,
            output_dir=output_dir,
            diffraction_domain=settings.diffraction_domain,
            nphotons_from_data=settings.nphotons_from_data,
            stitch_crop_size=int(settings.inference.value("stitch_crop_size")),
            execution_config=settings.execution_config() if config.backend == "pytorch" else None,
        )
        training: list[LossValue] = []
        validation: list[LossValue] = []
        trained: Optional[tuple[Any, ...]] = None
        run = self._start(_TRAIN_ENTRY, job)
        try:
            messages = run.messages()
            for message in messages:
                if message[0] == TAG_TRAINED:
                    trained = message
                    continue
                if message[0] != TAG_EPOCH:
                    continue
                _, epoch, _nepochs, logs = message
                _append_epoch(training, validation, int(epoch), logs)
                try:
                    yield TrainOutput(training_loss=list(training), validation_loss=list(validation),
                                      progress=len(training))
                except GeneratorExit:
                    logger.info("%s training stopped by the caller after epoch %d; saving the model", self._name,
                                int(epoch) + 1)
                    run.request_stop()
                    for late in messages:  # the child ends its batch, saves, then reports
                        if late[0] == TAG_TRAINED:
                            trained = late
                        elif late[0] == TAG_EPOCH:
                            _append_epoch(training, validation, int(late[1]), late[3])
                    self._adopt_trained(trained)
                    return
        finally:
            self._finish(run)
        self._adopt_trained(trained)
        yield TrainOutput(training_loss=list(training), validation_loss=list(validation), progress=len(training))

    def _adopt_trained(self, trained: Optional[tuple[Any, ...]]) -> None:
        if trained is None:
            raise RuntimeError("the PtychoPINN training child ended without saving a model")
        _, archive, completed, _history = trained
        self.load_model_from_file(archive)
        logger.info("training %s; the new model %s is loaded", "finished" if completed else "was stopped early",
                    archive)


def _append_epoch(training: list[LossValue], validation: list[LossValue], epoch: int, logs: dict[str, float]) -> None:
    loss = logs.get("train_loss", logs.get("loss"))
    if loss is not None:
        training.append(LossValue(epoch=epoch, value=float(loss)))
    if logs.get("val_loss") is not None:
        validation.append(LossValue(epoch=epoch, value=float(logs["val_loss"])))


class PtychoPINNLibrary(ReconstructorLibrary):
    """``'PtychoPINN (ptychopinn)'``: our 'PINN' and 'Supervised' reconstructors for Ptychodus.

    ``settings`` (:class:`PtychoPINNSettings`) is registered in the given registry — the
    application's own, so its settings file and settings panel include ours.
    """

    def __init__(self, settings_registry: SettingsRegistry) -> None:
        super().__init__(LOGGER_NAME)
        self.settings = PtychoPINNSettings(settings_registry)
        self._reconstructors = [PtychoPINNReconstructor(name, self.settings) for name in _MODEL_TYPES]

    @property
    def name(self) -> str:
        return LIBRARY_NAME

    def __iter__(self) -> Iterator[Reconstructor]:
        return iter(self._reconstructors)

    def reconstructor(self, name: str) -> PtychoPINNReconstructor:
        """The reconstructor called ``name`` ('PINN' or 'Supervised')."""
        for reconstructor in self._reconstructors:
            if reconstructor.name == name:
                return reconstructor
        raise KeyError(f"{LIBRARY_NAME} has no reconstructor {name!r}; available: {', '.join(_MODEL_TYPES)}")
