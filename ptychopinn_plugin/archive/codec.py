"""The contract between the archive layer and a backend's model serialisation.

The archive layer owns the container (zip, manifest, checksums, metadata, safety); a
backend owns only the bytes of one model payload. Keeping that boundary as a small
protocol lets the archive stay framework-free: it never imports TensorFlow or PyTorch,
and the Ptychodus GUI process can validate archives without a deep-learning framework.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ptychopinn_plugin.config import ModelConfig


@runtime_checkable
class PayloadCodec(Protocol):
    """Saves and loads one model payload file for one backend.

    Attributes:
        backend: ``'tensorflow'`` or ``'pytorch'``; written to ``manifest.backend``.
        payload_filename: ``'model.keras'`` (TensorFlow) or ``'model.pt'`` (PyTorch);
            must equal ``layout.PAYLOAD_FILENAMES[backend]``.
    """

    backend: str
    payload_filename: str

    def framework_versions(self) -> dict[str, str]:
        """Versions written to ``manifest.framework_versions`` (e.g. tensorflow + keras,
        or torch + lightning); the archive layer adds numpy."""
        ...

    def save_model(self, model: Any, path: Path) -> None:
        """Write ``model`` as exactly one regular file at ``path`` (which does not exist yet).

        Must not execute or embed arbitrary code (Keras: registered classes, no Lambda;
        torch: ``state_dict`` only, §7.4)."""
        ...

    def load_model(self, path: Path, *, name: str, params: dict[str, Any]) -> Any:
        """Load the payload at ``path`` without executing code from it (§7.5 item 6).

        ``path`` lies in a private temporary directory and its sha256 has been verified.
        ``name`` is the model name (``'autoencoder'``, ``'diffraction_to_obj'``, …) and
        ``params`` the decoded ``params.json`` (schema ``ptychopinn.params/1``: ``legacy``,
        ``model_config``, ``training_config``, ``intensity_scale``,
        ``intensity_scale_trained``, ``N``, ``gridsize``; non-finite tokens already decoded
        for the two scales), from which a torch codec rebuilds the architecture."""
        ...

    def verify_model(self, model: Any, *, name: str, model_config: ModelConfig) -> None:
        """Check the loaded model's input/output shapes against ``model_config.N`` and
        ``model_config.gridsize`` (§7.5 item 7); raise ``ValueError`` naming the model, the
        shape found and the shape expected."""
        ...


# Optional codec capability (format 3.1, issue #12): a codec that defines
#
#     def derive_model(self, source: Any, *, name: str, source_name: str, params: dict[str, Any]) -> Any
#     def derivable(self, source: Any, model: Any) -> bool   # model is source's view (weights shared)
#
# can rebuild model ``name`` from the already decoded model ``source_name`` (sharing its
# weights).  The writer then stores no payload for ``name`` (manifest ``derived_models``)
# and the reader calls ``derive_model`` instead of ``load_model``; ``verify_model`` runs
# on the derived model as on any other.


def can_derive(codec: Any) -> bool:
    """Whether ``codec`` implements the optional ``derive_model`` capability."""
    return callable(getattr(codec, "derive_model", None)) and callable(getattr(codec, "derivable", None))


CodecResolver = Callable[[str], PayloadCodec]
"""Maps an archive's backend name to the codec that loads it (may raise the §8
``RuntimeError`` when that backend's framework is not installed)."""
