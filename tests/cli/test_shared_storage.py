"""``optuna-nas search`` on shared studies on real servers.

Several worker processes, killed workers, a lost database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import urlsplit

import optuna
import pytest
from optuna.trial import TrialState

from optuna_nas.training import load_weights
from optuna_nas.workers import storage_from_url
from tests.servers import throwaway_study_url

pytestmark = pytest.mark.slow  # worker processes train real (tiny) networks

OPTIONS = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
           "--batch-size", "64", "--val-size", "200", "--test-size", "200", "--threads", "1",
           "--sampler", "random", "--no-progress", "--heartbeat-interval", "1",
           "--grace-period", "3"]  # fmt: skip


def _search(tmp_path, url, name, *extra, train_size=600):
    command = [sys.executable, "-m", "optuna_nas.cli", "search", *OPTIONS, "--storage", url,
               "--study-name", name, "--train-size", str(train_size), *extra]  # fmt: skip
    return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)  # fmt: skip


def _finish(process, timeout=180):
    out, _ = process.communicate(timeout=timeout)
    return process.returncode, out


def _trials(url, name):
    study = optuna.load_study(study_name=name, storage=storage_from_url(url))
    return study.get_trials(deepcopy=False)


def _wait_for_running_trial(url, name, owner=lambda pid: True, timeout=120):
    """A RUNNING trial that has started training, in a worker whose pid ``owner`` accepts."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            for trial in _trials(url, name):
                worker = trial.user_attrs.get("worker")
                if trial.state == TrialState.RUNNING and "arch" in trial.user_attrs and worker:
                    pid = int(worker.rsplit(":", 1)[1])
                    if owner(pid):
                        return trial.number, pid
        except KeyError:  # the study does not exist yet
            pass
        time.sleep(0.1)
    raise AssertionError("no worker started a trial in time")


def _check_weights(trials, artifact_dir):
    for trial in trials:
        if trial.state != TrialState.COMPLETE:
            continue
        path = artifact_dir / trial.user_attrs["weights_artifact_id"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == trial.user_attrs["weights_sha256"]
        assert load_weights(path)  # a real safetensors file


@pytest.mark.parametrize("kind", ["postgresql", "mysql", "redis"])
def test_two_workers_share_one_study_and_run_exactly_the_budget(tmp_path, kind):
    with throwaway_study_url(kind) as (url, name):
        # Trials of 1,500 images outlast the helper's start-up (imports, data), so both work.
        search = _search(tmp_path, url, name, "--n-trials", "6", "--workers", "2", train_size=1500)
        code, out = _finish(search)
        assert code == 0, out
        trials = _trials(url, name)
        assert sorted(t.number for t in trials) == list(range(6)), out
        assert [t.state for t in trials] == [TrialState.COMPLETE] * 6, out
        assert len({t.user_attrs["worker"] for t in trials}) == 2, out  # both processes worked
        _check_weights(trials, tmp_path / "artifacts")
        # The study page of optuna-dashboard gets its hypervolume plot from the primary.
        storage = storage_from_url(url)
        attrs = storage.get_study_system_attrs(storage.get_study_id_from_name(name))
        assert any(k.startswith("dashboard:plot_data:hypervolume-history") for k in attrs)


def _wait_for_retry(url, name, number, timeout=60):
    deadline = time.monotonic() + timeout
    while not any(t.system_attrs.get("failed_trial") == number for t in _trials(url, name)):
        assert time.monotonic() < deadline, f"the killed trial {number} was not retried"
        time.sleep(0.2)


def _kill(pid):
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def test_killed_workers_trials_fail_by_heartbeat_are_retried_and_the_search_resumes(tmp_path):
    with throwaway_study_url("postgresql") as (url, name):
        primary = _search(tmp_path, url, name, "--n-trials", "4", "--workers", "2", train_size=1500)
        workers = {primary.pid}
        try:
            # 1. kill -9 whichever worker (the primary or its helper) runs the first trial:
            # the other one fails it by heartbeat and retries it. Which worker gets there
            # first depends on how fast the helper starts, so the test takes either.
            first, victim = _wait_for_running_trial(url, name)
            workers.add(victim)
            _kill(victim)
            _wait_for_retry(url, name, first)
            # 2. kill -9 the survivor too, mid-trial: nothing is left running.
            second, survivor = _wait_for_running_trial(url, name, owner=lambda pid: pid != victim)
            workers.add(survivor)
            _kill(survivor)
            primary.wait(timeout=30)
            assert _trials(url, name)[second].state == TrialState.RUNNING
        finally:
            for pid in workers:  # a failed assertion leaves no worker behind
                _kill(pid)
        # 3. the same command resumes: the dead trial fails after the grace period and reruns.
        code, out = _finish(_search(tmp_path, url, name, "--n-trials", "4", train_size=1500))
        assert code == 0, out
        trials = _trials(url, name)
        assert sum(t.state == TrialState.COMPLETE for t in trials) == 4, out
        for number in (first, second):  # (the second may be the first one's retry)
            assert trials[number].state == TrialState.FAIL
            (retry,) = [
                t for t in trials if t.system_attrs.get("retry_history", [])[-1:] == [number]
            ]
            assert retry.params == trials[number].params
        assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
        assert len(trials) == 6  # the budget and the two retries
        _check_weights(trials, tmp_path / "artifacts")


class _Proxy:
    """A TCP relay to the database that the test can cut, as a network outage would."""

    def __init__(self, port):
        self._target = ("127.0.0.1", port)
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self._sockets = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:  # cut
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)

    def cut(self):
        self._server.close()
        for s in self._sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def test_a_lost_database_stops_the_search_with_a_clear_error_and_it_resumes(tmp_path):
    with throwaway_study_url("postgresql") as (url, name):
        parts = urlsplit(url)
        proxy = _Proxy(parts.port)
        relayed = url.replace(f":{parts.port}/", f":{proxy.port}/")
        search = _search(tmp_path, relayed, name, "--n-trials", "3", train_size=1500)
        number, _ = _wait_for_running_trial(url, name)
        proxy.cut()
        code, out = _finish(search)
        assert code == 3, out
        assert f"lost the storage {relayed}" in out and "rerun the same command" in out, out
        assert "Traceback" not in out
        assert _trials(url, name)[number].state == TrialState.RUNNING  # not lost: retried later

        code, out = _finish(_search(tmp_path, url, name, "--n-trials", "3", train_size=1500))
        assert code == 0, out
        trials = _trials(url, name)
        assert trials[number].state == TrialState.FAIL
        assert sum(t.state == TrialState.COMPLETE for t in trials) == 3
