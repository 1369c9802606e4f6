"""Framework-neutral data layer: NPZ datasets, ``RawData``, grouping, containers.

Spec: ``data_contracts.md`` §1–§3.1.  Names are re-exported lazily (PEP 562) so that
``import ptychopinn_plugin.data`` stays cheap; nothing here imports a DL framework.
"""

from __future__ import annotations

from ptychopinn_plugin.util.lazy import lazy_exports

_EXPORTS = {
    "RawData": "raw_data",
    "PtychoDataContainer": "container",
    "loader_load": "container",
    "group_indices": "grouping",
    "build_grouped_dict": "grouped",
    "group_coordinates": "grouped",
    "GROUPED_KEYS": "grouped",
    "normalisation_factor": "normalisation",
    "pattern_energies": "normalisation",
    "factor_from_energies": "normalisation",
    "extract_ground_truth": "ground_truth",
    "subsample_indices": "subsample",
    "subsample_raw_data": "subsample",
    "DatasetArrays": "npz_dataset",
    "load_dataset_arrays": "npz_dataset",
    "save_dataset_arrays": "npz_dataset",
    "resolve_diffraction_key": "npz_dataset",
    "NpzReader": "npz_io",
    "NpyMemberInfo": "npz_io",
    "npz_member_info": "npz_io",
    "npz_member_infos": "npz_io",
    "parse_metadata": "npz_io",
    "metadata_nphotons": "npz_io",
    "metadata_to_array": "npz_io",
    "DIFFRACTION_DOMAINS": "validation",
    "require_model_ready": "validation",
    "resolve_diffraction_layout": "validation",
    "to_amplitude": "validation",
    "canonical_probe": "validation",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
