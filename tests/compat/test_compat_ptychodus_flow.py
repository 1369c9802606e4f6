"""Ptychodus 1.7's built-in PtychoPINN path driven through our ``ptycho`` shim (api spec §5.1).

Training runs Ptychodus's own child entry point ``ptychodus.model.ptychopinn._subprocess.run_train``
in-process (it calls ``run_cdi_example`` → ``model_manager.save(dir)`` → ``save_outputs``).
Reconstruction repeats, call for call, what its ``run_reconstruct`` does (that function
pickles a Ptychodus ``Product`` into its queue, which a test could only read back by
unpickling): ``update_legacy_dict`` → ``load_inference_bundle(dir)`` →
``RawData.from_coords_without_pc`` with integer counts and a ``(P, N, N)`` probe stack →
``probe.set_probe_guess`` → ``generate_grouped_data(N, K=7, nsamples=1, gridsize=g)`` →
``loader.load`` → ``params.get('intensity_scale')`` → ``model.predict([X*s, local_offsets])``
→ ``tf_helper.reassemble_position(M=20)``.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorflow")
pytest.importorskip("ptychodus")
pytestmark = [pytest.mark.tf, pytest.mark.ptychodus, pytest.mark.slow]


class _Queue:
    """The child's multiprocessing queue, reduced to what ``run_train`` uses (``put``)."""

    def __init__(self) -> None:
        self.items: list[tuple] = []

    def put(self, item: tuple) -> None:
        self.items.append(item)


def _ptychodus_training_config(gridsize: int):
    """``_build_training_config`` of ptychodus/model/ptychopinn/reconstructor.py with its
    setting defaults, plus the small sizes a unit test needs (n_groups, nepochs, filters, seed)."""
    from ptycho.config.config import ModelConfig, TrainingConfig

    model = ModelConfig(N=0, gridsize=gridsize, n_filters_scale=1, model_type="pinn", amp_activation="sigmoid",
                        object_big=True, probe_big=True, probe_mask=False, pad_object=True, probe_scale=4.0,
                        gaussian_smoothing_sigma=0.0)
    return TrainingConfig(model=model, train_data_file=Path(), test_data_file=None, batch_size=16, nepochs=1,
                          mae_weight=0.0, nll_weight=1.0, realspace_mae_weight=0.0, realspace_weight=0.0,
                          nphotons=1e6, positions_provided=True, probe_trainable=False,
                          intensity_scale_trainable=True, output_dir=Path(), n_groups=64, seed=5)


@pytest.fixture(scope="module", params=[1, 2], ids=["gridsize1", "gridsize2"])
def ptychodus_run(request, tiny_dataset_dir, tmp_path_factory):
    from ptychodus.model.ptychopinn._payload import TrainPayload
    from ptychodus.model.ptychopinn._subprocess import run_train

    from ptychopinn_plugin.workflows.inference import current_predictor
    from ptychopinn_plugin.workflows.session import clear_current_model

    gridsize = request.param
    output = tmp_path_factory.mktemp(f"ptychodus_g{gridsize}")
    config = _ptychodus_training_config(gridsize)
    queue = _Queue()
    run_train(TrainPayload(training_config=config, input_path=tiny_dataset_dir, output_path=output), queue)
    before = current_predictor()  # the model run_train trained, still in memory
    clear_current_model()
    return dict(gridsize=gridsize, output=output, queue=queue, config=config, before=before)


def _reconstruct_like_ptychodus(bundle_dir: Path, sim: dict, gridsize: int):
    """The body of ``run_reconstruct`` (ptychodus/model/ptychopinn/_subprocess.py), minus the Product."""
    from ptycho.config.config import InferenceConfig, ModelConfig, update_legacy_dict
    from ptycho.workflows.components import load_inference_bundle
    import ptycho.loader
    import ptycho.params
    import ptycho.probe
    import ptycho.tf_helper

    inference_config = InferenceConfig(
        model=ModelConfig(N=64, gridsize=gridsize, n_filters_scale=2), model_path=Path(), test_data_file=Path(),
        debug=False, output_dir=Path(),
    )
    update_legacy_dict(ptycho.params.cfg, inference_config)
    model_obj, _config = load_inference_bundle(bundle_dir)

    from ptycho.raw_data import RawData

    counts = np.rint(sim["diffraction"].astype(np.float64) ** 2).astype(np.int32)  # detector counts (integer dtype)
    probe_modes = np.stack([sim["probeGuess"], 0.3 * np.roll(sim["probeGuess"], 2, axis=1)])
    test_raw_data = RawData.from_coords_without_pc(
        xcoords=sim["xcoords"], ycoords=sim["ycoords"], diff3d=counts, probeGuess=probe_modes,
        scan_index=np.zeros(len(sim["xcoords"]), dtype=int), objectGuess=sim["objectGuess"],
    )
    ptycho.probe.set_probe_guess(None, test_raw_data.probeGuess)
    test_dataset = test_raw_data.generate_grouped_data(
        inference_config.model.N, K=7, nsamples=1, gridsize=inference_config.model.gridsize,
    )
    container = ptycho.loader.load(lambda: test_dataset, test_raw_data.probeGuess, which=None, create_split=False)
    intensity_scale = ptycho.params.get("intensity_scale")
    obj_tensor_full = model_obj.predict([container.X * intensity_scale, container.local_offsets])
    object_out = ptycho.tf_helper.reassemble_position(obj_tensor_full, container.global_offsets, M=20)
    return dict(model=model_obj, container=container, s=intensity_scale, patches=obj_tensor_full,
                object=np.squeeze(object_out), raw=test_raw_data)


@pytest.fixture(scope="module")
def sim(tiny_dataset_dir):
    with np.load(tiny_dataset_dir / "test_data.npz", allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}


def test_run_train_writes_the_bundle_ptychodus_expects(ptychodus_run):
    from ptychodus.model.ptychopinn._payload import MODEL_FILE_NAME
    from ptychodus.model.processing.subprocess_reconstructor import TAG_MODEL_SAVED, TAG_TRAIN_OUTPUT

    from ptychopinn_plugin.archive import read_manifest_only

    output = ptychodus_run["output"]
    assert sorted(p.name for p in output.iterdir()) == ["history.json", MODEL_FILE_NAME]
    tags = [tag for tag, _ in ptychodus_run["queue"].items]
    assert tags == [TAG_TRAIN_OUTPUT, TAG_MODEL_SAVED]
    assert ptychodus_run["queue"].items[1][1] == str(output / MODEL_FILE_NAME)
    info = read_manifest_only(output / MODEL_FILE_NAME)
    assert info.backend == "tensorflow" and info.N == 64 and info.gridsize == ptychodus_run["gridsize"]
    assert info.intensity_scale == pytest.approx(math.sqrt(1e6) / 32)
    assert ptychodus_run["config"].model.N == 64  # set by the child from the data


def test_reconstruction_through_the_shim(ptychodus_run, sim):
    import ptycho.model
    import ptycho.params

    from ptychopinn_plugin.workflows.predictor import InferencePredictor

    g = ptychodus_run["gridsize"]
    run = _reconstruct_like_ptychodus(ptychodus_run["output"], sim, g)
    assert isinstance(run["model"], InferencePredictor)
    assert run["s"] == pytest.approx(math.sqrt(1e6) / 32)
    assert ptycho.params.get("N") == 64 and ptycho.params.get("gridsize") == g  # archive wins over settings
    assert ptycho.params.get("n_filters_scale") == 1
    assert ptycho.params.get("probe").shape == (64, 64, 1)
    assert ptycho.model.diffraction_to_obj is run["model"].model  # loading sets the current model

    container, m = run["container"], len(sim["xcoords"])
    assert container.X.dtype.name == "float32" and tuple(container.X.shape) == (m, 64, 64, g * g)
    assert container.local_offsets.dtype == np.float64 and container.global_offsets.shape == (m, 1, 2, 1)
    patches = run["patches"]
    assert patches.shape == (m, 64, 64, 1) and patches.dtype == np.complex64

    # Identical predictions before saving (the in-memory model run_train trained) and after loading.
    before = ptychodus_run["before"].predict([container.X * run["s"], container.local_offsets])
    np.testing.assert_allclose(patches, before, rtol=1e-6, atol=1e-7 * np.abs(before).max())

    # The stitched object covers every scan position (Ptychodus keeps its own centre; we know com).
    obj = run["object"]
    q = np.asarray(container.global_offsets)[:, 0, :, 0]
    com = q.mean(axis=0)
    pad = math.ceil(np.abs(q - com).max())
    pad += pad % 2
    assert obj.shape == (20 + 2 * pad, 20 + 2 * pad)
    cols = np.rint(sim["xcoords"] - com[0] + obj.shape[1] / 2).astype(int)
    rows = np.rint(sim["ycoords"] - com[1] + obj.shape[0] / 2).astype(int)
    assert rows.min() >= 0 and cols.min() >= 0 and rows.max() < obj.shape[0] and cols.max() < obj.shape[1]
    covered = np.abs(obj[rows, cols]) > 0
    # Independent reference: a position is covered when some group centre is within the
    # central M/2 = 10 px (Chebyshev, 1 px margin for the bilinear edge).  With gridsize 1
    # every position is its own group centre; with gridsize 2 Ptychodus's random member draw
    # (no seed) can pull every centre near a scan corner away from it.
    positions = np.stack([sim["xcoords"], sim["ycoords"]], axis=1)
    nearest = np.abs(positions[:, None, :] - q[None, :, :]).max(axis=2).min(axis=1)
    assert np.all(covered[nearest < 9.0])
    assert covered.mean() >= (1.0 if g == 1 else 0.95)


def test_shim_stitching_places_the_object_where_the_ground_truth_is(ptychodus_run, sim):
    """A 1-epoch model cannot give a registrable image, so the geometry is checked with the
    ground-truth object patches at the group centres (what a perfect model predicts) fed
    through the identical calls: the shim's container offsets and ``tf_helper.reassemble_position``."""
    import ptycho.tf_helper

    from ptychopinn_plugin.evaluation import eval_reconstruction
    from ptychopinn_plugin.util.bilinear import extract_patches

    g = ptychodus_run["gridsize"]
    run = _reconstruct_like_ptychodus(ptychodus_run["output"], sim, g)
    offsets = np.asarray(run["container"].global_offsets)
    q = offsets[:, 0, :, 0]
    truth_patches = extract_patches(sim["objectGuess"], q[:, 0], q[:, 1], 64)[..., None]
    if g == 1:
        np.testing.assert_allclose(truth_patches, np.asarray(run["container"].Y), atol=1e-6)
    stitched = ptycho.tf_helper.reassemble_position(truth_patches, offsets, M=20)
    com = q.mean(axis=0)
    # physics §11 crops the ground truth at the integer pixel floor(com − P/2 + 0.5): a perfectly
    # placed canvas is then off by the sub-pixel residual (≤ 0.5 px per axis).
    stitched = np.asarray(stitched).reshape(stitched.shape[0], stitched.shape[1])
    size = stitched.shape[0]
    origin = com - size / 2
    first = np.floor(origin + 0.5).astype(int)  # (x, y)
    residual = origin - first
    crop = sim["objectGuess"][first[1]:first[1] + size, first[0]:first[0] + size]
    assert crop.shape == stitched.shape
    # Placement, measured only where the canvas is covered (Ptychodus draws gridsize-2 groups
    # without a seed, so uncovered corners vary from run to run and can mislead a whole-image
    # registration): the amplitude correlation over the covered pixels, as a function of the
    # shift, must peak (sub-pixel, parabolic fit) within 0.35 px of that residual.
    covered = np.abs(stitched) > 0
    inner = np.zeros_like(covered)
    inner[3:-3, 3:-3] = True
    mask = covered & inner
    assert mask.mean() > 0.5
    a = np.abs(stitched)
    scores = {}
    for dy in range(-3, 4):
        for dx in range(-3, 4):
            b = np.abs(np.roll(crop, (-dy, -dx), axis=(0, 1)))
            scores[(dy, dx)] = float(np.corrcoef(a[mask], b[mask])[0, 1])
    best = max(scores, key=scores.get)
    assert all(abs(v) <= 2 for v in best) and scores[best] > 0.8, (best, scores[best])
    # Sub-pixel peak (parabola through the best integer shift and its two neighbours per axis).
    estimate = []
    for axis in (0, 1):
        step = (1, 0) if axis == 0 else (0, 1)
        lo = scores[(best[0] - step[0], best[1] - step[1])]
        hi = scores[(best[0] + step[0], best[1] + step[1])]
        curvature = lo - 2 * scores[best] + hi
        estimate.append(best[axis] + (0.5 * (lo - hi) / curvature if curvature < 0 else 0.0))
    expected = (residual[1], residual[0])  # (y, x)
    assert max(abs(e - r) for e, r in zip(estimate, expected)) <= 0.35, (estimate, expected)
    # The full metric path agrees wherever the footprint is well covered (always at gridsize 1).
    if g == 1:
        metrics = eval_reconstruction(stitched, sim["objectGuess"], canvas_com=tuple(com))
        dy, dx = metrics["registration_shift"]
        assert abs(dy - residual[1]) <= 0.2 and abs(dx - residual[0]) <= 0.2
        assert metrics["ssim"][0] > 0.6  # the canvas footprint includes uncovered (zero) corners


def test_model_manager_class_round_trip(ptychodus_run, tmp_path, sim):
    """``ModelManager.save_multiple_models`` / ``load_multiple_models`` (base path without .zip)."""
    import ptycho.model
    from ptycho.model_manager import ModelManager

    from ptycho.workflows.components import load_inference_bundle

    predictor, _ = load_inference_bundle(ptychodus_run["output"])
    models = {"autoencoder": ptycho.model.autoencoder, "diffraction_to_obj": ptycho.model.diffraction_to_obj}
    path = ModelManager.save_multiple_models(models, tmp_path / "copy", None)
    assert path == tmp_path / "copy.zip" and path.is_file()
    loaded = ModelManager.load_multiple_models(tmp_path / "copy")
    assert set(loaded) == {"autoencoder", "diffraction_to_obj"}
    x = np.asarray(sim["diffraction"][:4, :, :, None].repeat(ptychodus_run["gridsize"] ** 2, axis=3), np.float32)
    pos = np.zeros((4, 1, 2, x.shape[3]), dtype=np.float32)
    expected = predictor.predict([x, pos])
    np.testing.assert_allclose(loaded["diffraction_to_obj"].predict_on_batch([x, pos]), expected, rtol=1e-6,
                               atol=1e-7 * np.abs(expected).max())
    # a .zip path given to model_manager.save is the target file itself (Ptychodus <= 1.1 "save model")
    import ptycho.model_manager

    target = ptycho.model_manager.save(str(tmp_path / "chosen_name.zip"))
    assert target == tmp_path / "chosen_name.zip" and target.is_file()


def test_loader_container_view_and_fresh_model_builders(ptychodus_run, sim):
    """``loader.load`` tensors and ``as_tf_dataset``; ``ptycho.model`` builders never write params.cfg."""
    import tensorflow as tf

    import ptycho.model
    import ptycho.params

    g = ptychodus_run["gridsize"]
    run = _reconstruct_like_ptychodus(ptychodus_run["output"], sim, g)
    container = run["container"]
    assert isinstance(container.X, tf.Tensor) and container.Y.dtype == tf.complex64
    assert container.coords_nominal.dtype == tf.float32 and tuple(container.probe.shape) == (64, 64)
    assert isinstance(container.nn_indices, np.ndarray) and len(container) == len(sim["xcoords"])
    assert container.norm_Y_I == pytest.approx(run["s"], rel=1e-6)  # sqrt(nphotons)/(N/2), data §3.1
    (inputs, targets) = next(iter(container.as_tf_dataset(8, shuffle=False)))
    np.testing.assert_allclose(inputs[0].numpy(), container.numpy.X[:8] * np.float32(run["s"]), rtol=1e-6)
    np.testing.assert_allclose(targets[2].numpy(), inputs[0].numpy() ** 2, rtol=1e-5)

    snapshot = dict(ptycho.params.cfg)
    autoencoder, diffraction_to_obj = ptycho.model.create_model_with_gridsize(g, 64, n_filters_scale=1, seed=0)
    assert tuple(diffraction_to_obj.inputs[0].shape) == (None, 64, 64, g * g)
    assert len(autoencoder.outputs) == 3
    compiled, _ = ptycho.model.create_compiled_model()
    assert compiled.optimizer is not None and tuple(compiled.inputs[0].shape)[-1] == g * g  # params.cfg gridsize
    assert set(ptycho.params.cfg) == set(snapshot)
    assert all(np.all(ptycho.params.cfg[k] == v) for k, v in snapshot.items())
