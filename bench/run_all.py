#!/usr/bin/env python
"""`make bench`: run every bench/*.py other than this one, as a script, one after the other.

Each bench prints its own figures and the ratio to its baseline; this prints a summary line per
bench and exits non-zero if any failed. `bench/run_all.py precheck staff_import` runs only those."""

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# The project's virtualenv when there is one (`make bench` creates it), else this interpreter.
_VENV_PYTHON = HERE.parent / ".venv" / "bin" / "python"
PYTHON = _VENV_PYTHON if _VENV_PYTHON.exists() else Path(sys.executable)


def main(argv):
    only = [a for a in argv if not a.startswith("-")]
    benches = sorted(
        p for p in HERE.glob("*.py") if p.name != Path(__file__).name and not p.name.startswith("_")
    )
    if only:
        benches = [p for p in benches if p.stem in only]
    results = []
    for path in benches:
        print(f"=== {path.name}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([str(PYTHON), str(path)], cwd=HERE.parent)
        results.append((path.name, code, time.perf_counter() - started))
    print("=== summary")
    for name, code, seconds in results:
        print(f"{name:<32} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:7.1f} s")
    return 1 if any(code for _n, code, _s in results) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
