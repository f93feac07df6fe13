"""Build hook: compile the coder's pure modules with mypyc (the same typed source, as C).

The coder is plain typed Python (text in, events out); mypyc turns those modules into C
extensions, about 1.5 times faster per article, with no second implementation to keep in step.
``GEOMON_PURE=1`` skips it; without a C compiler (or when the build fails) the package installs
as pure Python and works the same, only slower. Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

# Every module of streams/coding but these two (the Makefile rebuilds on a change to any):
# the package's init (it checks the compiled modules) and the CLDR table, read once at load.
NOT_COMPILED = {"__init__.py", "cldr.py"}
COMPILED = sorted(str(p) for p in Path("streams/coding").glob("*.py") if p.name not in NOT_COMPILED)


class OptionalBuildExt(build_ext):
    """A failed compile warns and removes what it built: all modules compiled, or none.

    (The compiled modules share one library; half of them would not import.)
    """

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 (any compiler or toolchain failure)
            for ext in self.extensions:
                path = self.get_ext_fullpath(ext.name)
                if os.path.exists(path):
                    os.remove(path)
            print(f"geomon: mypyc build failed ({exc}); installing pure Python", file=sys.stderr)


def ext_modules() -> list[Extension]:
    if os.environ.get("GEOMON_PURE", "") not in ("", "0"):
        return []
    try:
        from mypyc.build import mypycify
    except ImportError:  # pip's isolated build env: the Makefile compiles in a second step
        return []
    try:
        return list(mypycify(COMPILED, opt_level="3", group_name="streams.coding._compiled"))
    except (Exception, SystemExit) as exc:  # noqa: BLE001 (mypy exits on a type error)
        print(f"geomon: mypyc could not compile ({exc}); installing pure Python", file=sys.stderr)
        return []


setup(ext_modules=ext_modules(), cmdclass={"build_ext": OptionalBuildExt})
