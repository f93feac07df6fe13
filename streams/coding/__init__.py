"""The pure coder: text in, CodedEvents out. No Faust, no I/O beyond loading configs once.

In a source checkout the coder's modules may sit beside their mypyc-compiled forms (setup.py,
``make compile``); Python imports the compiled one first, so one older than its source would
run yesterday's coder. That is refused here, with the command that fixes it.
"""

from pathlib import Path

CODER_VERSION = "0.1.0"


def _refuse_stale_compiled(here: Path) -> None:
    if not (here.parent.parent / "setup.py").exists():
        return  # an installed package: its files were written together
    for lib in here.glob("*.so"):
        source = here / (lib.name.split(".", 1)[0] + ".py")
        if source.exists() and source.stat().st_mtime > lib.stat().st_mtime:
            raise ImportError(
                f"{lib} is older than {source.name}: run `make compile` to rebuild the "
                f"compiled coder, or delete {here}/*.so to run it as pure Python"
            )


_refuse_stale_compiled(Path(__file__).parent)
