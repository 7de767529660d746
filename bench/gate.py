#!/usr/bin/env python
"""`GET /api/v1/gate/` (what external schedulers poll) against a bare Django view, in the same
gunicorn with the production settings (DEBUG off, persistent database connections), on
loopback, with the same client in the same run.

The client is `wrk` (Debian's package) when installed, else an equal load generator in Python
(keep-alive connections, one thread each). The two URLs are measured alternately, twice each,
and the mean of each is compared: a load that comes or goes on a shared machine tilts neither.

Prints requests/s, p50 and p99 for both, the machine's load average, and the line
`gate/bare ratio: <number>` (target >= 0.6).

    .venv/bin/python bench/gate.py [--seconds 8] [--connections 8] [--workers 3] [--client auto|wrk|python]

Throwaway database on DATABASE_URL's server, or on the embedded server (var/pgdata) when
DATABASE_URL is unset; dropped at the end. The gate's Redis mirror (apps.posts.gate_mirror) on
REDIS_URL, default redis://127.0.0.1:6379/0 as in production (its keys are the throwaway
database's own).
"""

import argparse
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse, urlunparse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RATIO_TARGET = 0.6
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def bench_database(label: str):
    """(url of a new throwaway database, function dropping it). DATABASE_URL's server, or the
    embedded one (crisiscomm.embedded_db) when DATABASE_URL is unset."""
    import psycopg

    base = os.environ.get("DATABASE_URL", "")
    name = f"cc_bench_{label}_{os.getpid()}"
    if base:
        parsed = urlparse(base)
        url = urlunparse(parsed._replace(path="/" + name))
        admin = {"conninfo": urlunparse(parsed._replace(path="/postgres"))}
    else:
        from crisiscomm.embedded_db import database_settings, database_url

        var_dir = Path(os.environ.get("CRISISCOMM_VAR_DIR", ROOT / "var"))
        db = database_settings(var_dir, name="postgres")
        url = database_url({**db, "NAME": name})
        admin = {"host": db["HOST"], "user": db["USER"], "dbname": "postgres"}

    def connect():
        if "conninfo" in admin:
            return psycopg.connect(admin["conninfo"], autocommit=True)
        return psycopg.connect(host=admin["host"], user=admin["user"], dbname="postgres", autocommit=True)

    with connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with connect() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url, drop


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- load generators -------------------------------------------------------------------------


def run_wrk(url, token, seconds, connections):
    headers = ["-H", f"Authorization: Token {token}"] if token else []
    out = subprocess.run(
        ["wrk", "-t", "2", "-c", str(connections), "-d", f"{seconds}s", "--latency", *headers, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rate": rate,
        "p50": _wrk_ms(re.search(r"\s50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _wrk_ms(re.search(r"\s99%\s+([\d.]+\w+)", out).group(1)),
        "errors": int(errors.group(1)) if errors else 0,
    }


def _wrk_ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_python(url, token, seconds, connections):
    """Keep-alive HTTP/1.1 clients, one thread each, for `seconds`; latency of every request."""
    parsed = urlparse(url)
    headers = {"Authorization": f"Token {token}"} if token else {}
    latencies, errors = [], [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def client():
        conn = http.client.HTTPConnection(parsed.hostname, parsed.port, timeout=10)
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn.request("GET", parsed.path, headers=headers)
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                errors[0] += 1
        conn.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(connections)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rate": len(latencies) / elapsed,
        "p50": 1000 * latencies[len(latencies) // 2],
        "p99": 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "errors": errors[0],
    }


# --- the bench --------------------------------------------------------------------------------


def prepare(db_url):
    """Migrate, then a service account with an API token (what a scheduler holds)."""
    env = dict(os.environ, DATABASE_URL=db_url, DJANGO_SETTINGS_MODULE="crisiscomm.settings")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    code = (
        "import django; django.setup();"
        "from django.contrib.auth import get_user_model;"
        "from knox.models import AuthToken;"
        "u = get_user_model().objects.create_user('scheduler', password=None);"
        "print(AuthToken.objects.create(u)[1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    )
    return out.stdout.strip().splitlines()[-1]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    # 3 sync workers: docker-compose.yml's production command (`gunicorn ... --workers 3`).
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--client", choices=["auto", "wrk", "python"], default="auto")
    args = parser.parse_args()
    client_name = args.client if args.client != "auto" else ("wrk" if shutil.which("wrk") else "python")
    load = run_wrk if client_name == "wrk" else run_python

    db_url, drop = bench_database("gate")
    port = free_port()
    gunicorn = None
    try:
        token = prepare(db_url)
        env = dict(
            os.environ,
            DATABASE_URL=db_url,
            REDIS_URL=REDIS_URL,
            DJANGO_SETTINGS_MODULE="crisiscomm.settings",
            DEBUG="0",
            SECRET_KEY=secrets.token_urlsafe(50),
            ALLOWED_HOSTS="127.0.0.1",
            CRISISCOMM_SSL_REDIRECT="0",
            CRISISCOMM_SECURE_COOKIES="0",
            CRISISCOMM_HSTS_SECONDS="0",
            CRISISCOMM_BENCH_VIEWS="1",
            LOG_LEVEL="WARNING",
        )
        gunicorn_bin = Path(sys.executable).with_name("gunicorn")
        gunicorn = subprocess.Popen(
            [str(gunicorn_bin), "crisiscomm.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(args.workers), "--log-level", "warning"],
            cwd=ROOT,
            env=env,
        )  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        _wait_until_up(base + "/healthz")
        gate_url, bare_url = base + "/api/v1/gate/", base + "/bench/bare/"
        _check(gate_url, token)
        _check(bare_url, None)
        for url, tok in ((gate_url, token), (bare_url, None)):  # warm every worker's connection
            load(url, tok, 1, args.connections)

        runs = {"gate": [], "bare": []}
        for _round in range(2):
            runs["bare"].append(load(bare_url, None, args.seconds, args.connections))
            runs["gate"].append(load(gate_url, token, args.seconds, args.connections))
    finally:
        if gunicorn is not None:
            gunicorn.send_signal(signal.SIGTERM)
            try:
                gunicorn.wait(timeout=20)
            except subprocess.TimeoutExpired:
                gunicorn.kill()
        drop()

    print(f"client: {client_name}, {args.connections} connections, {args.seconds} s x 2 per URL; "
          f"gunicorn {args.workers} sync workers, production settings; {load_average()}")  # fmt: skip
    print(f"gate mirror: Redis at {REDIS_URL}")
    summary = {}
    for name in ("gate", "bare"):
        rate = statistics.mean(r["rate"] for r in runs[name])
        p50 = statistics.mean(r["p50"] for r in runs[name])
        p99 = statistics.mean(r["p99"] for r in runs[name])
        errors = sum(r["errors"] for r in runs[name])
        summary[name] = rate
        label = "GET /api/v1/gate/ (token)" if name == "gate" else "bare Django view"
        print(f"{label:<28} {rate:9.0f} req/s   p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   errors {errors}")
    ratio = summary["gate"] / summary["bare"]
    print(f"gate/bare ratio: {ratio:.2f}")
    print(f"target: ratio >= {RATIO_TARGET} {'met' if ratio >= RATIO_TARGET else 'MISSED'}")
    return 0


def _wait_until_up(url, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer {url}")


def _check(url, token):
    request = urllib.request.Request(url, headers={"Authorization": f"Token {token}"} if token else {})
    with urllib.request.urlopen(request, timeout=5) as response:
        body = response.read()
    assert response.status == 200 and b'"open"' in body, (url, response.status, body[:200])


if __name__ == "__main__":
    sys.exit(main())
