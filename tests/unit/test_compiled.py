"""The mypyc-compiled coder (setup.py, ``make compile``) says what its pure-Python source says.

Both run in subprocesses over the project's sample articles and every sample sentence as an
article of its own; the pure one imports a copy of ``streams`` without the compiled modules.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from streams.settings import REPO_ROOT

CODE = r"""
import json, sys
from datetime import datetime, timezone
from pathlib import Path
import streams.coding.coder as coder_module
from streams.coding.coder import Coder
from streams.coding.text import split_sentences
from streams.ingest import read_path
from streams.normalize import normalize
from streams.records import CleanArticle

root = Path(sys.argv[1])
coder = Coder.from_config_dir(root / "configs")
arts = []
for path in sorted((root / "samples" / "articles").iterdir()):
    for msg in read_path(path, stamp=False):
        art = normalize(msg.value, 10_000_000)
        if isinstance(art, CleanArticle):
            arts.append(art)
            for i, s in enumerate(split_sentences(art.text)):
                arts.append(art.model_copy(update={"id": f"{art.id}-{i}", "title": None, "text": s}))
at = datetime(2026, 1, 1, tzinfo=timezone.utc)
events = [e.model_dump(mode="json") for a in arts for e in coder.code(a, coded_at=at)]
print(json.dumps({"module": coder_module.__file__, "articles": len(arts), "events": events}))
"""


def _run(pythonpath: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(REPO_ROOT)],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    )
    return json.loads(out.stdout)


def _compiler_expected() -> bool:
    return os.environ.get("GEOMON_PURE", "") in ("", "0") and shutil.which("cc") is not None


def test_compiled_and_pure_coders_give_the_same_events(tmp_path: Path) -> None:
    pure_root = tmp_path / "pure"
    shutil.copytree(
        REPO_ROOT / "streams",
        pure_root / "streams",
        ignore=shutil.ignore_patterns("*.so", "__pycache__"),
    )
    pure = _run(str(pure_root))
    installed = _run(None)
    assert pure["module"].endswith("coder.py") and str(pure_root) in pure["module"]
    if _compiler_expected():
        # `make test` compiles first: a silently failed build would leave the slow coder
        assert installed["module"].endswith(".so"), installed["module"]
    assert pure["articles"] == installed["articles"] > 20
    assert len(installed["events"]) > 20
    assert installed["events"] == pure["events"]
