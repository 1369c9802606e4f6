"""File formats exchanged with other tools: the Ptychodus product HDF5 file (data spec §6).

Framework-neutral (h5py + NumPy) and independent of Ptychodus, so the standalone app and
the CLIs can read and write products without Ptychodus installed.  Names are exported
lazily (PEP 562): ``import ptychopinn_plugin.io`` does not even import h5py.
"""

from __future__ import annotations

from ptychopinn_plugin.util.lazy import lazy_exports

_EXPORTS = {
    "Product": "product_model",
    "ProductRawData": "product_model",
    "read_product": "product_h5",
    "write_product": "product_h5",
    "ProductFormatError": "product_h5",
    "ProductFieldMissingError": "product_h5",
    "PixelFrame": "product_geometry",
    "DiffractionInput": "diffraction_files",
    "positions_px": "product_geometry",
    "product_probe": "product_convert",
    "product_to_raw_data": "product_convert",
    "load_diffraction": "diffraction_files",
    "product_and_diffraction_to_npz": "product_convert",
    "canvas_and_com": "product_geometry",
    "provenance_note": "product_convert",
    "append_comment": "product_convert",
    "reconstruction_to_product": "product_convert",
    "raw_data_to_product": "product_convert",
    "npz_to_product": "product_convert",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())
