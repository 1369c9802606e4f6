"""Small field validators shared by the configuration dataclasses.

Every failure raises ``ValueError`` naming the field, the value found and what is
allowed (ptychodus_api_spec §2: "All violations raise ValueError naming the field, the
value and the allowed range").
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any, Iterable

logger = logging.getLogger(__name__)


def _fail(owner: str, field: str, value: Any, allowed: str) -> None:
    raise ValueError(f"{owner}.{field} = {value!r} is invalid; allowed: {allowed}")


def check_int(owner: str, field: str, value: Any, *, minimum: int | None = None,
              exclusive_minimum: int | None = None, allow_none: bool = False) -> None:
    """Integer (bool rejected) with an optional inclusive/exclusive lower bound."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        bound = _bound_text(minimum, exclusive_minimum)
        _fail(owner, field, value, f"an integer{bound}" + (" or None" if allow_none else ""))
    if minimum is not None and value < minimum:
        _fail(owner, field, value, f"an integer >= {minimum}")
    if exclusive_minimum is not None and value <= exclusive_minimum:
        _fail(owner, field, value, f"an integer > {exclusive_minimum}")


def check_float(owner: str, field: str, value: Any, *, minimum: float | None = None,
                exclusive_minimum: float | None = None, maximum: float | None = None,
                allow_none: bool = False) -> None:
    """Real number (bool rejected, ints accepted) inside the given bounds."""
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        _fail(owner, field, value, "a real number" + _range_text(minimum, exclusive_minimum, maximum))
    if value != value:  # NaN
        _fail(owner, field, value, "a finite real number" + _range_text(minimum, exclusive_minimum, maximum))
    if minimum is not None and value < minimum:
        _fail(owner, field, value, "a real number" + _range_text(minimum, exclusive_minimum, maximum))
    if exclusive_minimum is not None and value <= exclusive_minimum:
        _fail(owner, field, value, "a real number" + _range_text(minimum, exclusive_minimum, maximum))
    if maximum is not None and value > maximum:
        _fail(owner, field, value, "a real number" + _range_text(minimum, exclusive_minimum, maximum))


def check_choice(owner: str, field: str, value: Any, choices: Iterable[Any]) -> None:
    choices = tuple(choices)
    if value not in choices:
        _fail(owner, field, value, "one of " + ", ".join(repr(c) for c in choices))


def check_bool(owner: str, field: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(owner, field, value, "True or False")


def to_path(owner: str, field: str, value: Any, *, allow_none: bool) -> Path | None:
    """Convert str/PathLike to ``Path`` (finding TYPE-PATH-001); None passes if allowed."""
    if value is None:
        if allow_none:
            return None
        _fail(owner, field, value, "a path")
    if isinstance(value, Path):
        return value
    if isinstance(value, str):
        return Path(value)
    try:
        return Path(value)
    except TypeError:
        _fail(owner, field, value, "a path (str or os.PathLike)")
    return None  # pragma: no cover


def _bound_text(minimum: int | None, exclusive_minimum: int | None) -> str:
    if minimum is not None:
        return f" >= {minimum}"
    if exclusive_minimum is not None:
        return f" > {exclusive_minimum}"
    return ""


def _range_text(minimum: float | None, exclusive_minimum: float | None, maximum: float | None) -> str:
    low = f"[{minimum}" if minimum is not None else (f"({exclusive_minimum}" if exclusive_minimum is not None else "(-inf")
    high = f"{maximum}]" if maximum is not None else "inf)"
    return f" in {low}, {high}"


def deprecated_alias(owner: str, old: str, new: str) -> None:
    warnings.warn(f"{owner}.{old} is deprecated; use {new} instead", DeprecationWarning, stacklevel=4)
