"""Shared fixtures: the real configs, one coder per session, fresh settings per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.coding.coder import Coder
from streams.settings import REPO_ROOT, Settings

CONFIG_DIR = REPO_ROOT / "configs"
SAMPLES_DIR = REPO_ROOT / "samples"
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def coder() -> Coder:
    """The real coder over the real configs (loaded once: it takes a second or two)."""
    return Coder.from_config_dir(CONFIG_DIR)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings isolated from the caller's GEOMON_* environment."""
    import os

    for key in list(os.environ):
        if key.startswith("GEOMON_") and key != "GEOMON_CACHE_DIR":
            monkeypatch.delenv(key)
    return Settings(data_dir=tmp_path / "data")
