"""Exceptions raised by the model archive layer (api spec §7.5, §8 item 6, §10).

Every other archive problem (unsafe member, checksum, structure, legacy pickle archive)
is a plain ``ValueError`` whose message names the file or member, as the error
catalogue asks; only the backend mismatch gets its own class so that dispatchers can
tell "wrong backend selected" apart from "broken archive".
"""

from __future__ import annotations


class ArchiveBackendMismatchError(ValueError):
    """The archive was written by another backend than the one that should load it."""

    def __init__(self, archived: str, active: str) -> None:
        self.archived = archived
        self.active = active
        super().__init__(
            f"archive was saved by the {archived} backend; active backend is {active}"
        )
