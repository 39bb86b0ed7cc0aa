"""A package's names loaded from their modules on first use (PEP 562), for packages whose names come from heavy
modules that not every importer needs: the course store of ``regimen due`` imports the course engine's worklist
without the plan engine, the protocol loader and the clinical rules (issue 29). Type checkers read the same names
from the package's ``if TYPE_CHECKING:`` imports."""

from __future__ import annotations

import gc
import importlib
from collections.abc import Callable, Mapping, MutableMapping


def exports(package: MutableMapping[str, object], names: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of the package whose globals are ``package``: each of ``names`` (name -> module) is
    imported on first use and kept in the package.

    Importing allocates many long-lived objects (the model classes); the cyclic garbage collector would scan them,
    and everything loaded before (pint), again and again meanwhile: it is paused while the module loads, and left
    as the importer had it."""

    def load(name: str) -> object:
        module = names.get(name)
        if module is None:
            raise AttributeError(f"module {package['__name__']!r} has no attribute {name!r}")
        collecting = gc.isenabled()
        gc.disable()
        try:
            value = getattr(importlib.import_module(module), name)
        finally:
            if collecting:
                gc.enable()
        package[name] = value
        return value

    return load


__all__ = ["exports"]
