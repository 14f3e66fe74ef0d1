"""One validation layer for the command line: argparse ``type=`` functions.

Each returns the parsed value or raises :class:`argparse.ArgumentTypeError` with the
value and the valid range; argparse puts the flag in front, so a bad value is one
line such as ``argument --threads: must be an integer in [1, 1024], got '0'``.
Checks that need the storage or the study (a database file that must exist, what a
search recorded) are made when the verb opens them (:mod:`optuna_nas.cli._recorded`).
"""

from __future__ import annotations

import argparse
import math
import os
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from optuna_nas.workers import hide_password

# Upper bounds: beyond them a value is a typo, and some would queue or allocate without end.
MAX_TRIALS = 100_000
MAX_EPOCHS = 100_000
MAX_SEED = 2**32 - 1  # NumPy's and Optuna's samplers take seeds below 2**32
MAX_COUNT = 10**9  # image counts: more than a dataset has means all of them
STORAGE_FORMS = (
    "sqlite:///file.db, postgresql://user:password@host:5432/db, "
    "mysql://user:password@host:3306/db or redis://host:6379/0"
)
_RDB = ("sqlite", "postgresql", "mysql")
_REDIS = ("redis", "rediss")


def _integer(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:  # also for more digits than Python converts
        return None


def int_in(low: int, high: int) -> Callable[[str], int]:
    """An integer in ``[low, high]``."""

    def parse(text: str) -> int:
        value = _integer(text)
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be an integer in [{low}, {high}], got {text!r}")
        return value

    parse.__name__ = "integer"  # argparse's own messages name the type
    return parse


positive_int = int_in(1, MAX_COUNT)
non_negative_int = int_in(0, MAX_COUNT)
seed = int_in(0, MAX_SEED)
port = int_in(1, 65535)
trials = int_in(1, MAX_TRIALS)
epochs = int_in(1, MAX_EPOCHS)
threads = int_in(1, 1024)
seconds = int_in(1, 7 * 24 * 3600)


def positive_float(high: float) -> Callable[[str], float]:
    """A finite number in ``(0, high]`` (seconds, learning rates)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and 0 < value <= high):
            raise argparse.ArgumentTypeError(f"must be a number in (0, {high:g}], got {text!r}")
        return value

    parse.__name__ = "number"
    return parse


timeout = positive_float(1e8)


def count_or_fraction(text: str) -> int | float:
    """``--val-size``: a count >= 1, or a fraction in (0, 1)."""
    value = _integer(text)
    if value is not None:
        if not 1 <= value <= MAX_COUNT:
            raise argparse.ArgumentTypeError(
                f"must be a count in [1, {MAX_COUNT}] or a fraction in (0, 1), got {text!r}"
            )
        return value
    try:
        fraction = float(text)
    except ValueError:
        fraction = math.nan
    if not 0 < fraction < 1:  # NaN fails too
        raise argparse.ArgumentTypeError(
            f"must be a count in [1, {MAX_COUNT}] or a fraction in (0, 1), got {text!r}"
        )
    return fraction


def count_or_all(text: str) -> int | str:
    """``retrain --train-size/--test-size``: a count >= 1 or ``all``."""
    if text.strip().lower() == "all":
        return "all"
    value = _integer(text)
    if value is None or not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"must be a count in [1, {MAX_COUNT}] or 'all', got {text!r}"
        )
    return value


def int_list(low: int, high: int = MAX_COUNT) -> Callable[[str], list[int]]:
    """Comma-separated integers, each in ``[low, high]``, at least one."""

    def parse(text: str) -> list[int]:
        values = [_integer(v) for v in text.split(",") if v.strip()]
        if not values or any(v is None or not low <= v <= high for v in values):
            raise argparse.ArgumentTypeError(
                f"must be comma-separated integers in [{low}, {high}], e.g. {low},{low + 1}; "
                f"got {text!r}"
            )
        return values  # type: ignore[return-value]

    parse.__name__ = "integer list"
    return parse


def str_list(text: str) -> list[str]:
    """Comma-separated names, at least one."""
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError(f"must be comma-separated names, got {text!r}")
    return values


def storage_url(text: str) -> str:
    """An Optuna storage URL this package opens: SQLAlchemy's form (SQLite, PostgreSQL,
    MySQL) or a Redis journal; an SQLite file's directory must exist."""
    try:
        shown = hide_password(text)
    except ValueError:
        shown = text
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    base = scheme.split("+", 1)[0]
    if base in _RDB:
        from sqlalchemy.engine import make_url

        try:
            url = make_url(text)
        except Exception as exc:  # SQLAlchemy's ArgumentError, or ValueError for a bad port
            raise argparse.ArgumentTypeError(
                f"malformed storage URL {shown!r} ({_reason(exc)}); use {STORAGE_FORMS}"
            ) from None
        if base == "sqlite" and url.database not in (None, "", ":memory:"):
            folder = Path(url.database).parent
            if not folder.is_dir():
                raise argparse.ArgumentTypeError(
                    f"the directory {os.fspath(folder)!r} of SQLite storage {shown!r} does not "
                    "exist; create it or give another path"
                )
        return text
    if base in _REDIS and scheme in _REDIS:
        try:
            parts = urlsplit(text)
            parts.port  # noqa: B018 - raises ValueError for a port that is not a number
        except ValueError as exc:
            raise argparse.ArgumentTypeError(
                f"malformed storage URL {shown!r} ({_reason(exc)}); use {STORAGE_FORMS}"
            ) from None
        if not parts.hostname:
            raise argparse.ArgumentTypeError(
                f"malformed storage URL {shown!r} (no host); use {STORAGE_FORMS}"
            )
        return text
    raise argparse.ArgumentTypeError(f"unsupported storage URL {shown!r}; use {STORAGE_FORMS}")


def name(text: str) -> str:
    """A non-empty name (``--study-name``)."""
    if not text.strip():
        raise argparse.ArgumentTypeError(f"must be a non-empty name, got {text!r}")
    return text


def directory(text: str) -> str:
    """A directory path that may not exist yet (``--data-root``), but is not a file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a directory, got ''")
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"{text!r} is a file, not a directory")
    return text


def existing_dir(text: str) -> str:
    """A directory that exists (to read from)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a directory, got ''")
    if not os.path.isdir(text):
        what = "is a file, not a directory" if os.path.exists(text) else "does not exist"
        raise argparse.ArgumentTypeError(f"the directory {text!r} {what}")
    return text


def output_dir(text: str) -> str:
    """A directory to write into: new (created) or existing, never an existing file."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a directory, got ''")
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(
            f"{text!r} is an existing file; give a directory (new or existing) to write into"
        )
    ancestor = next(p for p in (path.absolute(), *path.absolute().parents) if p.exists())
    if not ancestor.is_dir():
        raise argparse.ArgumentTypeError(
            f"cannot create the directory {text!r}: {os.fspath(ancestor)!r} is a file"
        )
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(
            f"cannot write the directory {text!r}: {os.fspath(ancestor)!r} is not writable"
        )
    return text


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0].rstrip(".") if text else type(exc).__name__
