"""The ``regimen`` console script: start-up tuned, then the click CLI.

Start-up allocates many long-lived objects (pint's unit definitions, click, the model classes).
The cyclic garbage collector would scan them again and again while they load; the collector is
paused while the CLI imports (the package does the same for its own imports), and what was loaded
is then frozen out of later collections. Collection runs normally for the command itself.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from regimen.cli.app import main as cli_main  # lazy: imported while the collector is paused
        from regimen.lazy import freeze_start_up  # lazy: likewise (regimen.cli.app has loaded it)

        freeze_start_up()
    finally:
        gc.enable()
    cli_main()


if __name__ == "__main__":  # python -m regimen
    main()
