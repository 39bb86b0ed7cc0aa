"""The app as ``regimen serve`` starts it in each worker process (its options passed in the environment)."""

from __future__ import annotations

import os
from typing import Any

from regimen.web.app import create_app


def app_from_environment() -> Any:
    return create_app(os.environ.get("REGIMEN_SERVE_DB"), rate=float(os.environ.get("REGIMEN_SERVE_RATE", "300")))


__all__ = ["app_from_environment"]
