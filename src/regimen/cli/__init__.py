"""The ``regimen`` command line: the only package that imports click.

Library errors are mapped here to one-line messages that name command-line options; the library itself
never words its errors as flags.
"""

from regimen.cli.app import cli, main

__all__ = ["cli", "main"]
