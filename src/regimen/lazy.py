"""A package's names loaded from their modules on first use (PEP 562), for packages whose names come from heavy
modules that not every importer needs: the course store of ``regimen due`` imports the course engine's worklist
without the plan engine, the protocol loader and the clinical rules (issue 29). Type checkers read the same names
from the package's ``if TYPE_CHECKING:`` imports.

And what the console script loads for good, frozen out of the cyclic garbage collector's scans
(:func:`freeze_start_up`, :func:`freeze_if_start_up_was`)."""

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


#: Whether this process froze what its start-up loaded (the console script, regimen.__main__). A flag, not
#: ``gc.get_freeze_count()``, which walks every frozen object: 1.5 ms after the command line's start-up (23,000
#: objects), 5 ms once the database libraries are loaded too, and 17 ms in a test process that froze 1.7 million.
_start_up_frozen = False


def freeze_start_up() -> None:
    """What the process has loaded is frozen out of later collections (the console script, once it has imported
    the CLI); :func:`freeze_if_start_up_was` then does the same with what a command loads later."""
    global _start_up_frozen
    gc.freeze()
    _start_up_frozen = True


def freeze_if_start_up_was() -> None:
    """Freeze what is loaded now if the process froze its start-up (:func:`freeze_start_up`); otherwise (a test's
    process, running commands in-process) leave the collector as it is, as a freeze there would keep the process's
    later garbage cycles for good."""
    if _start_up_frozen:
        gc.freeze()


__all__ = ["exports", "freeze_if_start_up_was", "freeze_start_up"]
