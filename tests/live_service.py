"""The real service as operators run it: ``dermatriage serve`` in a subprocess, on a free port, its
settings in the environment, an API key issued with the real command line, the memory of its
processes; and a throw-away PostgreSQL database for it. Used by the tests that kill or load the
service and by ``bench/api_throughput.py``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx2 as httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

CLI = str(Path(sys.executable).with_name("dermatriage"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def throwaway_database(server_url: str, prefix: str = "dermatriage_test") -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL server of ``server_url``, dropped afterwards
    (its connections too)."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def service_env(database_url: str, photo_dir: Path, **settings: str) -> dict[str, str]:
    """The environment of a service on ``database_url`` with photos in ``photo_dir``; ``settings`` are
    further DERMATRIAGE_<NAME> values (``log_level="warning"`` -> ``DERMATRIAGE_LOG_LEVEL``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DERMATRIAGE_") and k != "DATABASE_URL"}
    values = {"database_url": database_url, "photo_dir": str(photo_dir), **settings}
    env.update({f"DERMATRIAGE_{name.upper()}": str(value) for name, value in values.items()})
    return env


def dermatriage(env: Mapping[str, str], *args: str) -> str:
    """Run the ``dermatriage`` command line; its standard output (it must succeed)."""
    done = subprocess.run([CLI, *args], env=dict(env), capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"dermatriage {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return done.stdout


def issue_key(env: Mapping[str, str], *, org: str, role: str = "intake") -> str:
    """A new API key (the organization is created when new); migrates the database on the way."""
    return dermatriage(env, "keys", "create", "--org", org, "--role", role).split()[-1]


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (the process's peak) of ``pid``, in KiB; empty once it has exited."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except (FileNotFoundError, ProcessLookupError):
        return {}
    fields = (line.split(":", 1) for line in lines)
    return {k: int(v.split()[0]) for k, v in fields if k in ("VmRSS", "VmHWM")}


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (uvicorn's workers, multiprocessing helpers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        p = todo.pop()
        tree.append(p)
        todo.extend(children.get(p, []))
    return tree


class ServiceProcess:
    """``dermatriage serve`` in a subprocess; :meth:`start` again after :meth:`kill` restarts it on the
    same port. Its output goes to ``log`` (appended across restarts)."""

    def __init__(self, env: Mapping[str, str], log: Path, *, workers: int = 1, port: int | None = None):
        self.env = dict(env)
        self.log = log
        self.workers = workers
        self.port = port or free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> ServiceProcess:
        command = [CLI, "serve", "--port", str(self.port), "--workers", str(self.workers)]
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(command, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "not started"
        return self.process.pid

    def wait_ready(self, timeout: float = 120.0, path: str = "/readyz") -> None:
        """Until ``path`` answers 200 (``/healthz``: up; ``/readyz``: database, store and models too)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"the service exited ({self.process.returncode}); see {self.log}")
            try:
                if httpx.get(self.base_url + path, timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the service was not ready after {timeout:.0f} s; see {self.log}")

    def kill(self) -> None:
        """SIGKILL to every process of the service (no shutdown of any kind), then reap it."""
        if self.process is None:
            return
        for pid in reversed(descendants(self.process.pid)):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        """A graceful stop (SIGTERM), a kill if it does not end within 30 s."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
        self.process = None
