"""A real Ray cluster on this machine for the tests: a head node and a second node.

Each node is a ``ray start --block`` process with its own GCS or raylet, object store
and worker processes, as on separate machines. Ray on Linux listens on every interface
and has no loopback-only mode for more than one node, so the cluster requires a token
only its own processes and the test's drivers have (``RAY_AUTH_MODE=token``). Stopping
it terminates those two processes (each takes its node's processes down with it), so a
test never stops Ray processes it did not start, as ``ray stop`` would.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

RAY = [sys.executable, "-m", "ray.scripts.scripts"]
_STARTED = "Ray runtime started"


class LocalCluster(NamedTuple):
    address: str
    """``HOST:PORT`` of the head, for ``ray.init`` and ``--cluster``."""
    environ: dict[str, str]
    """What a driver's environment needs to join (the cluster's token)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def local_ray_cluster(
    cpus: tuple[int, ...] = (1, 1), timeout: float = 300
) -> Iterator[LocalCluster]:
    """A running cluster with one node per entry of ``cpus`` (that many CPUs each)."""
    pytest.importorskip("ray")
    # Short: Ray's Unix socket paths live under it and must fit in 107 characters.
    root = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    env = {**os.environ, **auth, "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"127.0.0.1:{_free_port()}"
    nodes: list[tuple[subprocess.Popen, Path]] = []
    deadline = time.monotonic() + timeout
    try:
        for index, n_cpus in enumerate(cpus):
            role = (["--head", f"--port={address.rsplit(':', 1)[1]}", "--include-dashboard=false",
                     f"--temp-dir={root}"] if index == 0 else [f"--address={address}"])  # fmt: skip
            log = root / f"node{index}.log"
            with log.open("w") as out:
                proc = subprocess.Popen(
                    [*RAY, "start", "--block", *role, f"--num-cpus={n_cpus}", "--num-gpus=0",
                     f"--dashboard-agent-listen-port={_free_port()}", "--disable-usage-stats",
                     f"--object-store-memory={100 * 2**20}"],  # fmt: skip
                    env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                )  # fmt: skip
            nodes.append((proc, log))
            _wait_for_start(proc, log, deadline)
        yield LocalCluster(address, auth)
    finally:
        for proc, _ in reversed(nodes):
            _stop(proc)
        shutil.rmtree(root, ignore_errors=True)


def _wait_for_start(proc: subprocess.Popen, log: Path, deadline: float) -> None:
    while _STARTED not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > deadline:
            # The reason is in the node's own logs (a raylet that gave up on its agents, ...).
            fatal = [line for path in log.parent.glob("session_*/logs/raylet.out")
                     for line in path.read_text(errors="replace").splitlines()
                     if "Check failed" in line]  # fmt: skip
            tail = log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"a Ray node did not start (exit {proc.poll()}): {fatal}\n{tail}")
        time.sleep(0.2)


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM: ``ray start --block`` then stops the processes of its node, and exits."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    # What outlived it (an agent whose raylet died first) is still in its session.
    for pid in _session(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _session(sid: int) -> list[int]:
    """The processes of session ``sid`` (``start_new_session`` gave each node its own)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == sid:  # state, ppid, pgrp, session
                found.append(int(stat.parent.name))
    return found
