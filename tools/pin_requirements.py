#!/usr/bin/env python
"""Pin every dependency, dependencies of dependencies included, keeping runtime and dev apart.

`make pin`. Each requirements file keeps its top-level lines (what the project asks for, the
lines people edit) above a marker; below it this writes the transitive pins. Versions are the
ones installed in .venv/ (what the tests ran with): two throwaway virtualenvs resolve, with
.venv's `pip freeze` as constraints, what the runtime lines need and what runtime + dev need;
a third installs the written files from scratch and must match and pass `pip check`.
"""

import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MARKER = "# --- everything below: transitive pins, written by `make pin` (tools/pin_requirements.py)"
RUNTIME, DEV = ROOT / "requirements.txt", ROOT / "requirements-dev.txt"


def top_lines(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    if MARKER in lines:
        lines = lines[: lines.index(MARKER)]
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def name_of(requirement: str) -> str:
    return re.split(r"[\[=<>!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def requirement_names(lines) -> set[str]:
    return {name_of(x) for x in lines if x.strip() and not x.lstrip().startswith(("#", "-"))}


def freeze(python: Path) -> dict[str, str]:
    out = subprocess.run(
        [str(python), "-m", "pip", "freeze", "--all", "--disable-pip-version-check"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pins = {}
    for line in out.splitlines():
        if "==" in line and not line.startswith("-e"):
            pins[name_of(line)] = line.strip()
    for tool in ("pip", "setuptools", "wheel"):
        pins.pop(tool, None)
    return pins


def venv_with(requirements: list[str], constraints: Path | None, where: Path) -> dict[str, str]:
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    print(f"resolving in a fresh virtualenv: {where.name}", flush=True)
    python = where / "bin" / "python"
    req = where / "req.txt"
    req.write_text("\n".join(requirements) + "\n")
    cmd = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", str(req)]
    if constraints:
        cmd += ["-c", str(constraints)]
    for step in (cmd, [str(python), "-m", "pip", "check"]):
        done = subprocess.run(step, cwd=ROOT, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"{' '.join(step)} failed:\n{done.stdout}{done.stderr}")
    return freeze(python)


def main():
    runtime_top = top_lines(RUNTIME)
    dev_top = top_lines(DEV)
    dev_requirements = [x for x in dev_top if not x.strip().startswith("-r")]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        constraints = tmp / "constraints.txt"
        tested = freeze(ROOT / ".venv" / "bin" / "python")
        constraints.write_text("\n".join(tested.values()) + "\n")
        runtime = venv_with(runtime_top, constraints, tmp / "run")
        everything = venv_with(runtime_top + dev_requirements, constraints, tmp / "dev")

        runtime_extra = [runtime[n] for n in sorted(runtime) if n not in requirement_names(runtime_top)]
        dev_extra = [
            everything[n]
            for n in sorted(everything)
            if n not in runtime and n not in requirement_names(dev_requirements)
        ]
        RUNTIME.write_text("\n".join([*runtime_top, "", MARKER, *runtime_extra]) + "\n")
        DEV.write_text("\n".join([*dev_top, "", MARKER, *dev_extra]) + "\n")

        # From scratch, the written files alone give the same set.
        check = venv_with([f"-r {DEV}"], None, tmp / "check")
        if check != everything:
            diff = set(check.values()) ^ set(everything.values())
            sys.exit(f"pinned files do not reproduce the resolved set: {sorted(diff)}")
    print(f"{RUNTIME.name}: {len(runtime)} packages; {DEV.name}: {len(everything) - len(runtime)} more")


if __name__ == "__main__":
    main()
