"""Training, inference and device probing in the worker, and the handling of its events."""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from ptychopinn_gui.model.reconstruction import Reconstruction, ground_truth_crop
from ptychopinn_gui.worker.jobs import InferJob, ProbeJob, TrainJob, next_job_id

logger = logging.getLogger(__name__)

__all__ = ["RunActions"]


class RunActions:
    """Mixed into :class:`~ptychopinn_gui.controller.app_controller.AppController` (uses its state)."""

    # ================================================================= runs
    def _update_actions(self) -> None:
        w = self.window
        busy = self.worker.busy
        can_train = self.train_data is not None and self.last_report.ok and not busy
        w.training_panel.set_running(busy, can_train)
        w.train_action.setEnabled(can_train)
        w.stop_action.setEnabled(busy)
        w.cancel_action.setEnabled(busy)
        can_reconstruct = (self.model_archive is not None and not busy
                           and (self.train_data is not None or self.test_data is not None))
        w.models_panel.reconstruct_button.setEnabled(can_reconstruct)
        w.reconstruct_action.setEnabled(can_reconstruct)
        w.detect_action.setEnabled(not busy)
        w.parameter_panel.detect_button.setEnabled(not busy)
        w.save_model_action.setEnabled(self.model_archive is not None)
        w.models_panel.save_button.setEnabled(self.model_archive is not None)
        has_rec = self.reconstruction is not None
        w.models_panel.set_has_reconstruction(has_rec)
        for action in (w.export_npz_action, w.export_png_action, w.export_h5_action):
            action.setEnabled(has_rec)
        tip = "" if can_train else self._why_not_train()
        w.training_panel.train_button.setToolTip(tip or "Train a model in the worker process (Ctrl+T)")

    def _why_not_train(self) -> str:
        if self.worker.busy:
            return "a job is running"
        if self.train_data is None:
            return "open a training dataset first"
        if not self.last_report.ok:
            return "fix the invalid parameters first: " + "; ".join(self.last_report.messages())
        return ""

    def train(self) -> Optional[str]:
        """Start training in the worker; returns the job id (None when it cannot start)."""
        if self.worker.busy:
            return None
        report = self.validate()
        if self.train_data is None:
            self.show_error("Cannot train", "Open a training dataset first.")
            return None
        if not report.ok:
            self.window.tabs.setCurrentWidget(self.window.parameter_panel)
            self._status("cannot train: fix the invalid parameters (shown in red)")
            return None
        run_dir = self.session.new_run_dir("train")
        config = self.form.training_config(output_dir=run_dir)
        execution = self.form.execution_config() if self.form.backend == "pytorch" else None
        test = self.test_data
        job = TrainJob(
            job_id=next_job_id("train"), config=config, train_file=str(self.train_data.npz_path),
            train_domain=self.train_data.worker_domain,
            test_file=str(test.npz_path) if test is not None else None,
            test_domain=test.worker_domain if test is not None else "amplitude",
            execution=execution, run_dir=str(run_dir),
            preview_every=self.window.training_panel.preview_every.value(),
            stitch_crop_size=int(self.form.inference.get("stitch_crop_size")),
        )
        self._job_dataset[job.job_id] = "test" if test is not None else "train"
        self.progress.reset(config.nepochs)
        self.window.training_panel.reset(config.nepochs)
        self.window.training_panel.set_status("starting the worker…")
        self.window.tabs.setCurrentWidget(self.window.training_panel)
        self.worker.submit(job)
        self._update_actions()
        logger.info("training job %s submitted (%s, %d epochs)", job.job_id, config.backend, config.nepochs)
        return job.job_id

    def stop(self) -> None:
        if self.worker.busy:
            self.worker.request_stop()

    def cancel(self) -> None:
        if self.worker.busy:
            self.worker.cancel()

    def detect_device(self) -> Optional[str]:
        if self.worker.busy:
            return None
        execution = self.form.execution_config() if self.form.backend == "pytorch" else None
        job = ProbeJob(job_id=next_job_id("probe"), backend_name=self.form.backend, execution=execution)
        self.window.parameter_panel.set_device(f"device: starting the {self.form.backend} worker…")
        self.worker.submit(job)
        return job.job_id

    def reconstruct(self) -> Optional[str]:
        """Apply the current model to the chosen dataset in the worker."""
        if self.worker.busy or self.model_archive is None:
            return None
        choice = self.window.models_panel.dataset_choice()
        dataset = self.test_data if choice == "test" and self.test_data is not None else self.train_data
        which = "test" if dataset is self.test_data and dataset is not None else "train"
        if dataset is None:
            self.show_error("Cannot reconstruct", "Open a dataset first.")
            return None
        report = self.validate()
        inference_errors = {k: v for k, v in report.errors.items() if k.startswith("InferenceConfig.")}
        if inference_errors:
            self.window.tabs.setCurrentWidget(self.window.parameter_panel)
            self._status("cannot reconstruct: fix the inference parameters (shown in red)")
            return None
        summary = self.model_summary
        if summary is not None and summary.N != dataset.summary.N:
            self.show_error("Cannot reconstruct",
                            f"the model was trained with N = {summary.N} but the {which} data hold "
                            f"{dataset.summary.N}×{dataset.summary.N} patterns")
            return None
        job = InferJob(job_id=next_job_id("infer"), archive=str(self.model_archive),
                       data_file=str(dataset.npz_path), data_domain=dataset.worker_domain,
                       inference=self.form.inference.values(),
                       archive_backend=summary.backend if summary is not None else None,
                       label=f"inference on the {which} data")
        self._job_dataset[job.job_id] = which
        self.worker.submit(job)
        self._update_actions()
        return job.job_id

    # ================================================================= worker events
    def _job_started(self, job_id: str, kind: str) -> None:
        self.window.worker_label.setText(f"worker {self.worker.pid}: {kind}")

    def _worker_status(self, text: str) -> None:
        job = self.worker.current_job
        if isinstance(job, TrainJob):
            self.window.training_panel.set_status(text)
        self._status(text)

    def _device(self, info: dict) -> None:
        self.device_text = f"device: {info.get('device')} ({info.get('backend')} {info.get('framework_version')})"
        if info.get("backend") == self.form.backend:
            self.window.parameter_panel.set_device(self.device_text)

    def _job_yielded(self, msg: dict) -> None:
        kind = msg.get("kind")
        if kind == "epoch":
            self.progress.record(msg["epoch"], msg["nepochs"], msg.get("logs", {}), msg.get("elapsed", 0.0))
            self.window.training_panel.show_progress(self.progress)
            self.window.training_panel.set_status(self.progress.status_text())
        elif kind == "preview":
            job = self.worker.current_job
            self._show_reconstruction(msg["reconstruction"], backend=getattr(job, "backend", None) or "",
                                      dataset=self._job_dataset.get(str(msg.get("job")), "train"), keep=False)

    def _job_returned(self, job_id: str, result: dict) -> None:
        if job_id.startswith("train"):
            self._training_done(job_id, result)
        elif job_id.startswith("infer"):
            rec = result.get("reconstruction")
            if rec is not None:
                self._show_reconstruction(rec, backend=result.get("backend", ""),
                                          dataset=self._job_dataset.get(job_id, "train"), keep=True)
            self._status(f"reconstructed {result.get('groups')} groups in {result.get('elapsed', 0):.1f} s")
        elif job_id.startswith("probe"):
            self._status(f"{result.get('backend')} runs on {result.get('device')}")

    def _training_done(self, job_id: str, result: dict) -> None:
        completed = bool(result.get("completed"))
        self.open_model(result["archive"], remember=False, summary=result.get("summary"))
        self.model_unsaved = True
        rec = result.get("reconstruction")
        if rec is not None:
            history = result.get("history", {})
            self._show_reconstruction(rec, backend=result.get("backend", ""),
                                      dataset=self._job_dataset.get(job_id, "train"), keep=True,
                                      losses=history.get("loss"))
        note = "" if completed else " (stopped early; the model was kept)"
        self.window.training_panel.set_status(
            f"trained {len(result.get('history', {}).get('loss', []))} epochs in {result.get('elapsed', 0):.1f} s"
            + note)
        self._status("training finished" + note)

    def _job_errored(self, job_id: str, msg: dict) -> None:
        title = "Worker process died" if msg.get("error_type") == "WorkerDied" else f"{job_id} failed"
        self.window.training_panel.set_status(f"failed: {msg.get('message')}")
        self.show_error(title, f"{msg.get('error_type')}: {msg.get('message')}", msg.get("traceback", ""))

    def _job_aborted(self, job_id: str) -> None:
        self.window.training_panel.set_status("cancelled: the worker process was terminated")
        self._status(f"{job_id} cancelled")

    def _job_finished(self, job_id: str) -> None:
        self._job_dataset.pop(job_id, None)
        self.window.worker_label.setText("worker: idle" if self.worker.worker.alive else "worker: not running")
        self._update_actions()

    def _show_reconstruction(self, msg: dict, *, backend: str, dataset: str, keep: bool,
                             losses: Optional[list[float]] = None) -> None:
        rec = Reconstruction(
            object=np.asarray(msg["object"]), canvas_com=tuple(msg["canvas_com"]), backend=backend,
            label=str(msg.get("label", "")), metrics=msg.get("metrics"), losses=losses,
            archive_sha256=msg.get("archive_sha256") or (self.model_summary.archive_sha256
                                                         if self.model_summary else None),
            epoch=msg.get("epoch"), extra={"dataset": dataset}, misfit=msg.get("misfit"),
        )
        source = self.test_data if dataset == "test" else self.train_data
        truth = ground_truth_crop(rec, source.raw.objectGuess) if source is not None else None
        self.window.image_panel.show_reconstruction(rec, truth)
        if keep:
            self.reconstruction = rec
            self.reconstruction_changed.emit()
            self._update_actions()
