"""The one error type for bad user input.

Library code raises :class:`InputError` with a message that names the problem and
the fix; the CLI turns it into a clean message and exit code 2 (no traceback).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path


class InputError(ValueError):
    """Bad user input: a file, an argument or a config value we cannot use."""


@contextlib.contextmanager
def about(path: str | Path) -> Iterator[None]:
    """Name ``path`` in any :class:`InputError` raised inside (e.g. by :class:`~keras_hdl.series.Series` checks)."""
    try:
        yield
    except InputError as err:
        if str(path) in str(err):
            raise
        raise InputError(f"{path}: {err}") from err
