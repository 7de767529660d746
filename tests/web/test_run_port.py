"""`make run PORT=…`: the web process listens on that port and the links in notices follow it."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings
from django.db import connection

from crisiscomm.embedded_db import database_url

ROOT = Path(settings.BASE_DIR)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_base_url_defaults_to_the_port():
    """Mutation: the settings default back to a fixed "http://127.0.0.1:8000" -> this test fails."""
    env = {k: v for k, v in os.environ.items() if k != "CRISISCOMM_BASE_URL"}
    env["PORT"] = "8123"
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.CRISISCOMM_BASE_URL)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**env, "DJANGO_SETTINGS_MODULE": "crisiscomm.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip().splitlines()[-1] == "http://127.0.0.1:8123"


def test_make_run_hands_the_port_to_honcho():
    out = subprocess.run(
        ["make", "-n", "run", "PORT=8123"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "honcho start -f Procfile -p 8123" in out


def test_the_procfile_web_line_listens_on_port(transactional_db):
    """The Procfile's web process, started by honcho as `make run` does, answers on PORT.

    Mutation: the Procfile's web line back to a fixed 127.0.0.1:8000 -> nothing answers on the
    chosen port and this test fails."""
    port = free_port()
    # The process reaches the test database (migrated), not DATABASE_URL's, which may not exist.
    env = {
        **os.environ,
        "CRISISCOMM_SSL_REDIRECT": "0",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url(connection.settings_dict),
    }
    honcho = str(Path(sys.executable).with_name("honcho"))
    proc = subprocess.Popen(
        [honcho, "start", "-f", "Procfile", "-p", str(port), "web"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and answer is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    answer = (response.status, response.read())
            except OSError:
                if proc.poll() is not None:
                    break
                time.sleep(0.3)
        assert answer == (200, b'{"status": "ok"}'), (
            proc.stdout.read1(4000) if proc.poll() is not None else ""
        )
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
