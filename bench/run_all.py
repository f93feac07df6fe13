"""Every benchmark, one after another: ``make bench`` (``python bench/run_all.py``).

Runs bench_coder.py (when it exists), bench_pipeline.py and bench_scaleout.py as subprocesses
with this interpreter (their progress goes to stderr), takes the JSON object each prints, and
writes bench/results.json in the shape issue 7 gives, with the machine and the command:

    {"coder": {"articles_per_s", "peak_rss_mb"},
     "pipeline": {"articles_per_s", "raw_consume_per_s", "ratio_to_raw",
                  "latency_p50_ms", "latency_p99_ms"},
     "scaleout": {"ratio"}, "machine": {...}, "command": "make bench"}

A benchmark that is missing or fails gives null and a line under "notes". Everything each
benchmark printed is kept in bench/results-full.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import log, machine

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 1800.0
BENCHMARKS: dict[str, tuple[str, ...]] = {
    "coder": ("articles_per_s", "peak_rss_mb"),
    "pipeline": (
        "articles_per_s",
        "raw_consume_per_s",
        "ratio_to_raw",
        "latency_p50_ms",
        "latency_p99_ms",
    ),
    "scaleout": ("ratio",),
}


def run(name: str) -> tuple[dict[str, Any] | None, str | None]:
    """The JSON object bench_<name>.py printed, or None and why not."""
    script = HERE / f"bench_{name}.py"
    if not script.exists():
        return None, f"{script.name} is missing: not measured"
    log(f"== {script.name}")
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [sys.executable, str(script)],
            cwd=HERE.parent,
            stdout=subprocess.PIPE,
            stderr=None,  # progress lines go straight through
            timeout=TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"{script.name} did not finish in {TIMEOUT_S:.0f} s"
    log(f"== {script.name}: exit {proc.returncode} after {time.monotonic() - started:.0f} s")
    lines = [ln for ln in proc.stdout.decode(errors="replace").splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        return None, f"{script.name} failed (exit {proc.returncode})"
    try:
        out = json.loads(lines[-1])
    except ValueError:
        return None, f"{script.name} did not print a JSON object last"
    return out, None


def main() -> None:
    results: dict[str, Any] = {}
    full: dict[str, Any] = {}
    notes: list[str] = []
    for name, keys in BENCHMARKS.items():
        out, note = run(name)
        full[name] = out
        if out is None:
            results[name] = None
            notes.append(f"{name}: {note}")
        else:
            results[name] = {k: out.get(k) for k in keys}
    results["machine"] = machine()
    results["command"] = "make bench"
    if notes:
        results["notes"] = notes
    (HERE / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (HERE / "results-full.json").write_text(
        json.dumps({**full, "machine": results["machine"]}, indent=2) + "\n", encoding="utf-8"
    )
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
