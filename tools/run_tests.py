#!/usr/bin/env python
"""`make test`: pytest on PostgreSQL and Redis, whatever the machine provides.

- Database: DATABASE_URL if set (CI, production-like runs); otherwise the embedded PostgreSQL
  server under var/pgdata, which the settings start on first use.
- Redis: REDIS_URL if set; otherwise, when `redis-server` is installed, a private one on a free
  loopback port for this run only (no disk, stopped at the end), so that the tests that need a
  real broker run rather than skip. Without either, those few tests say "needs REDIS_URL".

Arguments go to pytest unchanged.
"""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _private_redis():
    binary = shutil.which("redis-server")
    if binary is None:
        return None, None
    port = _free_port()
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, f"redis://127.0.0.1:{port}/0"
        except OSError:
            time.sleep(0.05)
    proc.terminate()
    return None, None


def main(argv: list[str]) -> int:
    env = dict(os.environ)
    redis_proc = None
    if not env.get("REDIS_URL"):
        redis_proc, url = _private_redis()
        if url:
            env["REDIS_URL"] = url
            print(f"REDIS_URL unset: a private redis-server for this run at {url}")
    if not env.get("DATABASE_URL"):
        print("DATABASE_URL unset: the embedded PostgreSQL server under var/pgdata")
    try:
        return subprocess.call([sys.executable, "-m", "pytest", *argv], cwd=ROOT, env=env)
    finally:
        if redis_proc is not None:
            redis_proc.terminate()
            redis_proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
