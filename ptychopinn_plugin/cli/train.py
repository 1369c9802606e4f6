"""``ptychopinn-train`` (alias ``ptycho_train``): train a model and write ``wts.h5.zip`` (api spec §9).

::

    ptychopinn-train --train_data_file train.npz [--test_data_file test.npz] [--output_dir D]
        [--config run.yaml] [--<ModelConfig/TrainingConfig field> VALUE ...] [--do_stitching]
        [--diffraction_domain amplitude|intensity|auto] [--backend tensorflow|pytorch]
        [--torch-... execution flags] [--torch-mmap-dir DIR] [--log-level LEVEL] [--quiet]

One flag per ``ModelConfig``/``TrainingConfig`` field, generated from the dataclasses
(booleans as ``--x/--no-x``); values come from the command line, then the YAML file,
then the defaults.  ``N`` not given → the side of the training patterns.  The strict
``validate_training_config`` applies (power-of-two batch size, files exist).

Memory-mapped training (PyTorch; data spec §4, physics §12.2 "Large data"):
``--torch-mmap-dir DIR`` builds the memory-mapped dataset of ``--train_data_file`` in
``DIR`` — or reuses it when its manifest matches the request exactly; a mismatch is a
runtime error (exit 1) asking to delete the directory — and trains from it with
``train_models_mmap``; the diffraction array is never loaded whole (``N`` and the
position count come from the NPZ member headers).  Without the flag, the PyTorch backend
switches to it by itself, in ``<output_dir>/mmap_dataset`` (one INFO line), when more than
``STREAM_THRESHOLD`` (10 000, :mod:`ptychopinn_plugin.workflows.mmap_training`) training
groups are requested (``n_groups``, capped at the number of positions for gridsize 1).
Not possible there (no ground truth stored, no subsampling): ``--model_type supervised``,
a real-space MAE (``--realspace_weight`` and ``--realspace_mae_weight`` > 0),
``--n_subsample``; with ``--torch-mmap-dir`` (or with the TensorFlow backend) these are
usage errors (exit 2), in the automatic case training stays in memory with a WARNING.
Test data are loaded, evaluated and stitched in memory in both paths.

Outputs in ``output_dir``: ``wts.h5.zip``, ``history.json``; with ``--do_stitching`` and
test data also ``reconstructed_amplitude.png``, ``reconstructed_phase.png`` and
``reconstruction.npz``.  One progress line per epoch goes to stderr (``--quiet`` silences
it); the first Ctrl-C stops after the current batch and still saves the model (marked
incomplete); a Ctrl-C before training starts (while data load) stops there.  Exit codes:
0 success, 2 usage error, 1 runtime error (nothing is saved), 130 stopped by Ctrl-C.
The output directory is checked before any data are read.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

from ptychopinn_plugin.cli._common import (
    EXIT_INTERRUPTED,
    InterruptStop,
    UsageError,
    add_logging_options,
    check_output_dir,
    run_cli,
)

logger = logging.getLogger(__name__)
PROG = "ptychopinn-train"

DOMAINS = ("amplitude", "intensity", "auto")
DEFAULT_RECIPE = "measured"
"""``--recipe`` default (ptychopinn_plugin.config.recipes): the measured recipe, so that a model
trained with default settings reconstructs unseen objects (issue #11)."""

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


def add_torch_mmap_flag(parser: argparse.ArgumentParser) -> None:
    """``--torch-mmap-dir`` (training only; not an execution setting, so not in :data:`TORCH_FLAGS`)."""
    group = parser.add_argument_group("PyTorch memory-mapped training (data larger than RAM)")
    group.add_argument(
        "--torch-mmap-dir", metavar="DIR", default=None,
        help="build (or reuse, when its manifest matches) the memory-mapped dataset of --train_data_file in DIR "
             "and train the PyTorch backend from it without loading the diffraction array; chosen automatically "
             "(DIR = <output_dir>/mmap_dataset) above 10 000 training groups",
    )


def build_parser() -> argparse.ArgumentParser:
    from ptychopinn_plugin.config import TrainingConfig
    from ptychopinn_plugin.config.recipes import RECIPES
    from ptychopinn_plugin.workflows.arguments import add_config_arguments

    parser = argparse.ArgumentParser(
        prog=PROG, allow_abbrev=False,
        description="Train a PtychoPINN model (TensorFlow or PyTorch) and write wts.h5.zip.",
    )
    parser.add_argument("--config", metavar="YAML", default=None,
                        help="YAML configuration (model fields top-level or under 'model:'); CLI values override it")
    parser.add_argument("--recipe", choices=RECIPES, default=DEFAULT_RECIPE,
                        help="defaults under your own values: 'measured' = gridsize 3, neighbor_count 12, "
                             "20 group-refinement iterations with momentum 0.9 (the recipe that reconstructs unseen "
                             "objects, docs/benchmarks.md); 'spec' = the specification's model (gridsize 1, no "
                             "refinement). Flags and --config values always win (default %(default)s)")
    parser.add_argument("--do_stitching", action="store_true",
                        help="stitch the test reconstruction and write PNGs + reconstruction.npz")
    parser.add_argument("--diffraction_domain", choices=DOMAINS, default="amplitude",
                        help="how to read the NPZ diffraction arrays (default %(default)s)")
    add_config_arguments(parser, TrainingConfig)
    add_torch_training_flags(parser)
    add_torch_mmap_flag(parser)
    add_logging_options(parser)
    return parser


def torch_execution_config(args: argparse.Namespace, names: dict[str, str] = TORCH_FLAGS) -> Optional[Any]:
    """A ``PyTorchExecutionConfig`` from the given ``--torch-*`` flags (None when none given)."""
    from ptychopinn_plugin.config import PyTorchExecutionConfig

    given = {field: getattr(args, flag) for flag, field in names.items() if getattr(args, flag, None) is not None}
    return PyTorchExecutionConfig(**given) if given else None


def _train(args: argparse.Namespace) -> int:
    from ptychopinn_plugin.config import TrainingConfig, build_config, validate_training_config
    from ptychopinn_plugin.config.model_config import ALLOWED_N, UNSUPPORTED_N_HINT
    from ptychopinn_plugin.config.recipes import apply_recipe
    from ptychopinn_plugin.workflows.arguments import data_pattern_size, merge_config_values
    from ptychopinn_plugin.workflows.data_prep import load_data

    values = apply_recipe(merge_config_values(args, args.config, TrainingConfig), args.recipe)
    train_file = values.get("train_data_file")
    if not train_file:
        raise UsageError("--train_data_file is required (on the command line or in the --config YAML)")
    backend = values.get("backend", TrainingConfig.__dataclass_fields__["backend"].default)
    if args.torch_mmap_dir is not None and backend != "pytorch":
        raise UsageError(
            f"--torch-mmap-dir needs --backend pytorch (the backend is {backend!r}): memory-mapped datasets are "
            "read by the PyTorch backend only; the TensorFlow backend streams large data by itself"
        )

    # N from the member header only: the memory-mapped path must be chosen before any data are loaded.
    if "N" not in values:
        values["N"] = data_pattern_size(train_file)
        logger.info("N = %d taken from the header of %s", values["N"], train_file)
        if values["N"] not in ALLOWED_N:
            raise ValueError(f"{train_file}: the diffraction patterns are {values['N']}×{values['N']}; "
                             f"{UNSUPPORTED_N_HINT}")
    config = build_config(TrainingConfig, values)
    validate_training_config(config)
    check_output_dir(config.output_dir)
    if args.torch_mmap_dir is not None:
        check_output_dir(args.torch_mmap_dir, "--torch-mmap-dir")
    mmap_dir = _memory_mapped_dir(args, config) if backend == "pytorch" else None
    train = None if mmap_dir is not None else load_data(
        train_file, config.n_subsample, config.subsample_seed, diffraction_domain=args.diffraction_domain)

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

    from ptychopinn_plugin.cli._progress import EpochProgressPrinter

    stop = InterruptStop(PROG, "stopping after the current batch")
    monitor = EpochProgressPrinter(None if args.quiet else sys.stderr, stop=stop.requested)
    with stop:
        if mmap_dir is None:
            from ptychopinn_plugin.workflows.backend_selector import run_cdi_example_with_backend

            amp, phase, results = run_cdi_example_with_backend(
                train, test, config, do_stitching=args.do_stitching, torch_execution_config=execution,
                monitor=monitor,
            )
        else:
            from ptychopinn_plugin.workflows.mmap_training import run_cdi_example_mmap

            amp, phase, results = run_cdi_example_mmap(
                mmap_dir, test, config, do_stitching=args.do_stitching, monitor=monitor,
                execution_config=execution, diffraction_domain=args.diffraction_domain,
            )
    saved = _save_and_report(args, config, amp, phase, results)
    if stop.requested():
        print(f"{PROG}: stopped by Ctrl-C; the model was saved, marked incomplete (exit {EXIT_INTERRUPTED})",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return saved


def _memory_mapped_dir(args: argparse.Namespace, config: Any) -> Optional[Path]:
    """The memory-mapped dataset directory to train from, or None to train in memory.

    ``--torch-mmap-dir`` → that directory (a configuration it cannot train is a usage
    error, raised before anything is built).  Otherwise more than ``STREAM_THRESHOLD``
    training groups (physics §12.2 "Large data") → ``<output_dir>/mmap_dataset``, unless
    the configuration is unsupported there (WARNING; training stays in memory).  The
    group count needs only the ``xcoords`` header of the training file.
    """
    from ptychopinn_plugin.workflows import mmap_training

    reasons = mmap_training.mmap_unsupported_reasons(config)
    if args.torch_mmap_dir is not None:
        if reasons:
            flags = ", ".join(f"--{field}" for field in reasons)
            raise UsageError(
                f"--torch-mmap-dir cannot be combined with {flags}: " + "; ".join(reasons.values())
                + ". Train in memory (drop --torch-mmap-dir) or change these settings"
            )
        return Path(args.torch_mmap_dir)
    positions = mmap_training.npz_position_count(config.train_data_file)
    if config.n_subsample is not None:
        positions = min(positions, int(config.n_subsample))
    groups = mmap_training.requested_train_groups(config, positions)
    threshold = mmap_training.STREAM_THRESHOLD  # read at call time (tests lower it)
    if groups <= threshold:
        return None
    if reasons:
        logger.warning(
            "%d training groups exceed %d, which calls for a memory-mapped dataset, but training stays in memory "
            "(the whole training file is loaded): %s", groups, threshold, "; ".join(reasons.values()),
        )
        return None
    directory = Path(config.output_dir) / mmap_training.DEFAULT_MMAP_DIRNAME
    logger.info(
        "%d training groups > %d: training from the memory-mapped dataset %s (built, or reused when its manifest "
        "matches); choose its directory with --torch-mmap-dir DIR", groups, threshold, directory,
    )
    return directory


def _save_and_report(args: argparse.Namespace, config: Any, amp: Any, phase: Any, results: dict[str, Any]) -> int:
    """Archive the session's current model and write the outputs (both training paths)."""
    from ptychopinn_plugin.workflows.outputs import save_outputs
    from ptychopinn_plugin.workflows.session import current_model, save_model

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


def main(argv: Optional[Sequence[str]] = None) -> int:
    return run_cli(PROG, build_parser(), argv, _train)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
