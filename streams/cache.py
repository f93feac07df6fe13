"""Where geomon keeps what it derives once per machine (Kafka's classpath, the CLDR name table)."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$GEOMON_CACHE_DIR``, else ``$XDG_CACHE_HOME/geomon``, else ``~/.cache/geomon``."""
    env = os.environ.get("GEOMON_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "geomon"
