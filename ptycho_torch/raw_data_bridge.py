"""``RawDataTorch``: the seed name for a scan as torch tensors (§4T.9), over ``RawData`` (data §2)."""

from __future__ import annotations

import os
from typing import Any, Union

from ptychopinn_plugin.data.raw_data import RawData

__all__ = ["RawDataTorch"]


class RawDataTorch:
    """A :class:`RawData` whose arrays are read as torch tensors (``.numpy`` is the RawData).

    ``xcoords``, ``ycoords``, ``diff3d`` (amplitudes), ``probeGuess``, ``scan_index``,
    ``objectGuess`` and ``Y`` come back as tensors (None stays None); grouping is the
    RawData's own (``generate_grouped_data``)."""

    _TENSORS = ("xcoords", "ycoords", "xcoords_start", "ycoords_start", "diff3d", "probeGuess", "scan_index",
                "objectGuess", "Y")

    def __init__(self, raw: RawData) -> None:
        if not isinstance(raw, RawData):
            raise TypeError(f"expected a RawData; got {type(raw).__name__}")
        self.numpy = raw

    @classmethod
    def from_file(cls, path: Union[str, "os.PathLike[str]"], *, diffraction_domain: str = "amplitude") -> "RawDataTorch":
        return cls(RawData.from_file(path, diffraction_domain=diffraction_domain))

    def __getattr__(self, name: str) -> Any:
        if name in RawDataTorch._TENSORS:
            import torch

            value = getattr(self.numpy, name)
            return None if value is None else torch.from_numpy(value)
        return getattr(self.numpy, name)

    def __len__(self) -> int:
        return len(self.numpy)
