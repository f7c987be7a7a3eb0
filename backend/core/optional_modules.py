"""Import the modules of parts that may be absent from an installation."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType


def present_modules(names: tuple[str, ...]) -> Iterator[ModuleType]:
    """Yield each named module that exists; a module that exists but fails to import raises."""
    for name in names:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
