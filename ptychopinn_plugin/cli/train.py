"""``ptychopinn-train`` (alias ``ptycho_train``): train a model and write ``wts.h5.zip`` (api spec §9).

::

    ptychopinn-train --train_data_file train.npz [--test_data_file test.npz] [--output_dir D]
        [--config run.yaml] [--<ModelConfig/TrainingConfig field> VALUE ...] [--do_stitching]
        [--diffraction_domain amplitude|intensity|auto] [--backend tensorflow|pytorch]
        [--torch-... execution flags] [--log-level LEVEL] [--quiet]

One flag per ``ModelConfig``/``TrainingConfig`` field, generated from the dataclasses
(booleans as ``--x/--no-x``); values come from the command line, then the YAML file,
then the defaults.  ``N`` not given → the side of the training patterns.  The strict
``validate_training_config`` applies (power-of-two batch size, files exist).

Outputs in ``output_dir``: ``wts.h5.zip``, ``history.json``; with ``--do_stitching`` and
test data also ``reconstructed_amplitude.png``, ``reconstructed_phase.png`` and
``reconstruction.npz``.  One progress line per epoch goes to stderr (``--quiet`` silences
it).  Exit codes: 0 success, 2 usage error, 1 runtime error.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from typing import Any, Optional, Sequence

from ptychopinn_plugin.cli._common import UsageError, add_logging_options, run_cli

logger = logging.getLogger(__name__)
PROG = "ptychopinn-train"

DOMAINS = ("amplitude", "intensity", "auto")

# --torch-<flag> → PyTorchExecutionConfig field (api spec §9).
TORCH_FLAGS: dict[str, str] = {
    "torch_accelerator": "accelerator",
    "torch_devices": "devices",
    "torch_strategy": "strategy",
    "torch_deterministic": "deterministic",
    "torch_precision": "precision",
    "torch_num_workers": "num_workers",
    "torch_learning_rate": "learning_rate",
    "torch_scheduler": "scheduler",
    "torch_accumulate_grad_batches": "accum_steps",
    "torch_gradient_clip_val": "gradient_clip_val",
    "torch_logger": "logger_backend",
    "torch_enable_checkpointing": "enable_checkpointing",
    "torch_checkpoint_save_top_k": "checkpoint_save_top_k",
    "torch_checkpoint_monitor": "checkpoint_monitor_metric",
    "torch_checkpoint_mode": "checkpoint_mode",
    "torch_early_stop_patience": "early_stop_patience",
}


def _devices(text: str) -> Any:
    if text == "auto":
        return "auto"
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto'; got {text!r}") from None


def add_torch_training_flags(parser: argparse.ArgumentParser) -> None:
    from ptychopinn_plugin.config.execution_config import (
        ACCELERATORS,
        CHECKPOINT_MODES,
        LOGGER_BACKENDS,
        PRECISIONS,
        SCHEDULERS,
        STRATEGIES,
    )

    group = parser.add_argument_group("PyTorch execution (ignored, with a warning, for the TensorFlow backend)")
    group.add_argument("--torch-accelerator", choices=ACCELERATORS, default=None)
    group.add_argument("--torch-devices", type=_devices, default=None, metavar="N|auto")
    group.add_argument("--torch-strategy", choices=STRATEGIES, default=None)
    # Spelled as api spec §9 writes it (--torch-no-deterministic); argparse's BooleanOptionalAction
    # would give --no-torch-deterministic, which stays accepted as an alias.
    group.add_argument("--torch-deterministic", dest="torch_deterministic", action="store_true", default=None)
    group.add_argument("--torch-no-deterministic", "--no-torch-deterministic", dest="torch_deterministic",
                       action="store_false", default=None)
    group.add_argument("--torch-precision", choices=PRECISIONS, default=None)
    group.add_argument("--torch-num-workers", type=int, default=None)
    group.add_argument("--torch-learning-rate", type=float, default=None)
    group.add_argument("--torch-scheduler", choices=SCHEDULERS, default=None)
    group.add_argument("--torch-accumulate-grad-batches", type=int, default=None)
    group.add_argument("--torch-gradient-clip-val", type=float, default=None)
    group.add_argument("--torch-logger", choices=LOGGER_BACKENDS, default=None)
    group.add_argument("--torch-enable-checkpointing", dest="torch_enable_checkpointing", action="store_true",
                       default=None)
    group.add_argument("--torch-disable-checkpointing", dest="torch_enable_checkpointing", action="store_false")
    group.add_argument("--torch-checkpoint-save-top-k", type=int, default=None)
    group.add_argument("--torch-checkpoint-monitor", default=None)
    group.add_argument("--torch-checkpoint-mode", choices=CHECKPOINT_MODES, default=None)
    group.add_argument("--torch-early-stop-patience", type=int, default=None)


def build_parser() -> argparse.ArgumentParser:
    from ptychopinn_plugin.config import TrainingConfig
    from ptychopinn_plugin.workflows.arguments import add_config_arguments

    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Train a PtychoPINN model (TensorFlow or PyTorch) and write wts.h5.zip.",
    )
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="YAML configuration (model fields top-level or under 'model:'); CLI values override it")
    parser.add_argument("--do_stitching", action="store_true",
                        help="stitch the test reconstruction and write PNGs + reconstruction.npz")
    parser.add_argument("--diffraction_domain", choices=DOMAINS, default="amplitude",
                        help="how to read the NPZ diffraction arrays (default %(default)s)")
    add_config_arguments(parser, TrainingConfig)
    add_torch_training_flags(parser)
    add_logging_options(parser)
    return parser


def torch_execution_config(args: argparse.Namespace, names: dict[str, str] = TORCH_FLAGS) -> Optional[Any]:
    """A ``PyTorchExecutionConfig`` from the given ``--torch-*`` flags (None when none given)."""
    from ptychopinn_plugin.config import PyTorchExecutionConfig

    given = {field: getattr(args, flag) for flag, field in names.items() if getattr(args, flag, None) is not None}
    return PyTorchExecutionConfig(**given) if given else None


def _train(args: argparse.Namespace) -> int:
    from ptychopinn_plugin.cli._progress import EpochProgressPrinter
    from ptychopinn_plugin.config import TrainingConfig, build_config, validate_training_config
    from ptychopinn_plugin.workflows.arguments import merge_config_values
    from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend
    from ptychopinn_plugin.workflows.data_prep import load_data
    from ptychopinn_plugin.workflows.outputs import save_outputs
    from ptychopinn_plugin.workflows.session import current_model, save_model

    values = merge_config_values(args, args.config, TrainingConfig)
    train_file = values.get("train_data_file")
    if not train_file:
        raise UsageError("--train_data_file is required (on the command line or in the --config YAML)")
    train = load_data(train_file, values.get("n_subsample"), values.get("subsample_seed"),
                      diffraction_domain=args.diffraction_domain)
    if "N" not in values:
        values["N"] = train.N
        logger.info("N = %d taken from %s", train.N, train_file)
    config = build_config(TrainingConfig, values)
    validate_training_config(config)
    test = None
    if config.test_data_file is not None:
        # Test data are never subsampled: evaluation and stitching cover the whole test scan.
        test = load_data(config.test_data_file, diffraction_domain=args.diffraction_domain)
    elif args.do_stitching:
        logger.warning("--do_stitching needs --test_data_file; no reconstruction images will be written")

    execution = torch_execution_config(args)
    if config.backend == "tensorflow" and execution is not None:
        logger.warning("the --torch-* flags are ignored for the TensorFlow backend")
        execution = None

    stop = _InterruptStop()
    monitor = EpochProgressPrinter(None if args.quiet else sys.stderr, stop=stop.requested)
    with stop:
        amp, phase, results = run_cdi_example_with_backend(
            train, test, config, do_stitching=args.do_stitching, torch_execution_config=execution, monitor=monitor,
        )
    # One training per CLI process: the model just trained is the session's current model.
    model = current_model()
    archive = save_model(config.output_dir, model)
    written = save_outputs(amp, phase, results, config.output_dir)
    if not args.quiet:
        losses = results["history"].get("loss") or []
        final = f"{losses[-1]:.6g}" if losses else "n/a"
        print(f"trained {config.model.model_type} model ({results['backend']}, N={config.model.N}, "
              f"gridsize={config.model.gridsize}) for {len(losses)} epochs; final loss {final}")
        print(f"model archive: {archive}")
        for path in sorted(written.values()):
            print(f"output: {path}")
        if model is not None and not model.completed:
            print("note: training was stopped early; the archive is marked incomplete")
    return 0



class _InterruptStop:
    """First Ctrl-C during training: stop after the current batch and still save the model
    (archived with ``completed: false``); a second Ctrl-C interrupts at once."""

    def __init__(self) -> None:
        self._flag = False
        self._previous: Any = None

    def requested(self) -> bool:
        return self._flag

    def _handle(self, signum: int, frame: Any) -> None:
        if self._flag:
            raise KeyboardInterrupt
        self._flag = True
        print(f"{PROG}: stopping after the current batch (Ctrl-C again to abort)", file=sys.stderr, flush=True)

    def __enter__(self) -> "_InterruptStop":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(PROG, build_parser(), argv, _train)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
