"""The worker process: training and inference never run in the GUI process.

Qt-free on purpose — the child imports this package (never PyQt5), and the parent side
(:class:`~.process.WorkerProcess`) is plain Python polled by a Qt timer in
:mod:`ptychopinn_gui.controller.worker_controller`.

* :mod:`.jobs` — picklable job descriptions (train, infer, probe device);
* :mod:`.channel` — one-way event pipe child → parent (EOF when the child dies);
* :mod:`.child` — the child's main loop, log forwarding, job dispatch;
* :mod:`.training_job`, :mod:`.inference_job` — the jobs, driving ``ptychopinn_plugin``;
* :mod:`.preview` — predict + stitch a held-out subset during training;
* :mod:`.model_capture` — adapter that exposes the model being trained to the preview;
* :mod:`.device` — which device the backend uses;
* :mod:`.process` — the parent's handle: start (non-blocking), submit, stop, cancel, poll.
"""
