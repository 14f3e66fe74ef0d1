"""Faults, counted: a shared search survives workers killed with SIGKILL mid-trial.

Run: ``python -m benchmarks.fault_tolerance [--kinds postgresql,redis] [--trials 20]
[--workers 3] [--kills 3] [--out benchmarks/results/fault_tolerance.md]``

One ``optuna-nas search --n-trials 20`` and two ``optuna-nas worker`` processes share
one study (synthetic data, NB201 cell with 4 channels and 1 cell per stage, 1 epoch,
heartbeat every second, 3 s grace period). When 4, 8 and 12 of the 20 trials are
COMPLETE, one of the worker processes that is running a trial, chosen at random, gets
SIGKILL, and a new ``optuna-nas worker`` takes its place, so three keep
running. A killed trial must become FAIL through the heartbeat and be queued again
(Optuna's ``RetryHeartbeatStaleTrialCallback``); the budget must end with exactly
``--trials`` COMPLETE trials, each with a weights artifact whose sha256 matches the
one recorded, and no architecture twice. The same on PostgreSQL and on the Redis
journal. ``tests/cli/test_faults.py`` runs :func:`chaos_search` and asserts it.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import hashlib
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import optuna
from optuna.artifacts import FileSystemArtifactStore
from optuna.trial import FrozenTrial, TrialState

from benchmarks._report import emit, machine
from benchmarks._servers import URLS, throwaway_study
from optuna_nas.encoding import Architecture
from optuna_nas.search import download_weights
from optuna_nas.workers import hide_password, storage_from_url

SEARCH = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
          "--batch-size", "64", "--train-size", "1000", "--val-size", "200", "--test-size", "200",
          "--heartbeat-interval", "1", "--grace-period", "3", "--max-retry", "3"]  # fmt: skip
MACHINE = ["--threads", "1", "--device", "cpu", "--no-progress"]
CLI = [sys.executable, "-m", "optuna_nas.cli"]
_HOST = socket.gethostname()


@dataclass
class Kill:
    pid: int
    trial: int | None  # the trial it was running; None if that trial finished first
    at: float  # seconds since the search started


@dataclass
class Outcome:
    url: str
    name: str
    n_trials: int
    artifact_dir: Path
    wall: float
    kills: list[Kill]
    exit_codes: dict[int, int]  # of the processes that were not killed
    trials: list[FrozenTrial]
    logs: dict[int, Path] = field(default_factory=dict)

    def log_tail(self, chars: int = 3000) -> str:
        return "\n".join(f"--- {pid}\n{p.read_text()[-chars:]}" for pid, p in self.logs.items())


def chaos_search(url: str, name: str, workdir: Path, *, n_trials: int = 20, workers: int = 3,
                 kills: int = 3, seed: int = 0, timeout: float = 900) -> Outcome:  # fmt: skip
    """Run the search in ``workdir`` while killing a busy worker ``kills`` times; see the module.

    A kill counts when the trial it hit was still running (not finished just before
    the signal landed); otherwise it kills again, up to ``2 * kills`` signals in all.
    """
    rng, start = random.Random(seed), time.monotonic()
    deadline = start + timeout
    artifact_dir, logs_dir = workdir / "artifacts", workdir / "logs"
    logs_dir.mkdir(parents=True, exist_ok=True)
    procs: dict[int, subprocess.Popen] = {}
    logs: dict[int, Path] = {}

    def spawn(command: list[str]) -> None:
        log = logs_dir / f"{len(logs)}.log"
        with log.open("w") as out:
            proc = subprocess.Popen(command, cwd=workdir, stdout=out, stderr=subprocess.STDOUT)
        procs[proc.pid], logs[proc.pid] = proc, log

    def worker() -> None:
        seeds = seed + len(logs)
        spawn(
            [*CLI, "worker", "--storage", url, "--study-name", name, "--seed", str(seeds), *MACHINE]
        )

    storage = storage_from_url(url)  # only reads: it fails no trial itself
    spawn([*CLI, "search", *SEARCH, *MACHINE, "--storage", url, "--study-name", name,
           "--n-trials", str(n_trials), "--seed", str(seed), "--artifact-dir", str(artifact_dir)])  # fmt: skip
    thresholds = kill_points(n_trials, kills)
    done_kills: list[Kill] = []
    killed: set[int] = set()
    try:
        study_id = _wait_for_queue(storage, name, n_trials, procs[next(iter(procs))], deadline)
        for _ in range(workers - 1):
            worker()
        while any(p.poll() is None for p in procs.values()):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the search did not finish in {timeout:.0f} s")
            confirmed = [k for k in done_kills if k.trial is not None]
            trials = storage.get_all_trials(study_id, deepcopy=False)
            complete = sum(t.state == TrialState.COMPLETE for t in trials)
            if (len(confirmed) < kills and len(done_kills) < 2 * kills
                    and complete >= thresholds[len(confirmed)]):  # fmt: skip
                alive = {pid for pid, p in procs.items() if p.poll() is None}
                busy = [(t, pid) for t in trials if (pid := _running_in(t)) in alive]
                if busy:
                    trial, pid = rng.choice(busy)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
                    procs[pid].wait()
                    killed.add(pid)
                    state = storage.get_trial(trial._trial_id).state
                    hit = trial.number if state in (TrialState.RUNNING, TrialState.FAIL) else None
                    done_kills.append(Kill(pid, hit, time.monotonic() - start))
                    worker()  # the replacement: three keep running
            time.sleep(0.1)
    finally:
        for proc in procs.values():  # a failure leaves no worker behind
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                proc.wait()
    wall = time.monotonic() - start
    exit_codes = {pid: p.returncode for pid, p in procs.items() if pid not in killed}
    trials = storage.get_all_trials(study_id, deepcopy=True)
    return Outcome(url, name, n_trials, artifact_dir, wall, done_kills, exit_codes, trials, logs)


def kill_points(n_trials: int, kills: int) -> list[int]:
    """How many COMPLETE trials the study has before each kill: 4, 8 and 12 of 20 for 3."""
    return [n_trials * (k + 1) // (kills + 2) for k in range(kills)]


def _wait_for_queue(storage, name, n_trials, search, deadline) -> int:  # noqa: ANN001
    """The study's id once ``search`` has created it and queued its budget."""
    while time.monotonic() < deadline:
        if search.poll() is not None:
            raise RuntimeError(
                f"optuna-nas search exited with {search.returncode} before workers joined"
            )
        with contextlib.suppress(KeyError):  # the study does not exist yet
            study_id = storage.get_study_id_from_name(name)
            queued = len(storage.get_all_trials(study_id, deepcopy=False))
            if "nas:search" in storage.get_study_user_attrs(study_id) and queued >= n_trials:
                return study_id
        time.sleep(0.2)
    raise TimeoutError("optuna-nas search did not queue its trials in time")


def _running_in(trial: FrozenTrial) -> int | None:
    """The pid of the local worker running ``trial``, once it started its objective."""
    worker = trial.user_attrs.get("worker", "")
    if trial.state != TrialState.RUNNING or "arch" not in trial.user_attrs or ":" not in worker:
        return None
    host, pid = worker.rsplit(":", 1)
    return int(pid) if host == _HOST else None


# ---------------------------------------------------------------- the figures
def retry_of(trials: list[FrozenTrial], number: int) -> FrozenTrial | None:
    """The trial queued again for the FAIL trial ``number`` (its retry history ends in it)."""
    found = [t for t in trials if t.system_attrs.get("retry_history", [])[-1:] == [number]]
    return found[0] if len(found) == 1 else None


def final_retry(trials: list[FrozenTrial], number: int) -> FrozenTrial | None:
    """The last trial of ``number``'s retry chain (a retry may be killed and retried too)."""
    trial = retry_of(trials, number)
    while trial is not None and trial.state == TrialState.FAIL and retry_of(trials, trial.number):
        trial = retry_of(trials, trial.number)
    return trial


def fingerprints(trials: list[FrozenTrial]) -> list[str]:
    """The canonical fingerprint of each COMPLETE trial's architecture (from its JSON)."""
    return [
        Architecture.from_json(t.user_attrs["arch"]).fingerprint
        for t in trials
        if t.state == TrialState.COMPLETE
    ]


def weights_problems(trials: list[FrozenTrial], artifact_dir: Path) -> list[str]:
    """``"trial N: why"`` for each COMPLETE trial without a valid, digest-checked weights file."""
    store, problems = FileSystemArtifactStore(str(artifact_dir)), []
    for trial in trials:
        if trial.state != TrialState.COMPLETE:
            continue
        digest = trial.user_attrs.get("weights_sha256")
        try:
            if digest is None:
                raise ValueError("no weights_sha256 recorded")
            stored = artifact_dir / trial.user_attrs["weights_artifact_id"]
            if hashlib.sha256(stored.read_bytes()).hexdigest() != digest:
                raise ValueError("sha256 of the stored file differs")
            if not download_weights(store, trial):  # checks the digest again, loads the tensors
                raise ValueError("no tensors")
        except (KeyError, ValueError, OSError) as exc:
            problems.append(f"trial {trial.number}: {exc}")
    return problems


def figures(outcome: Outcome) -> dict:
    trials = outcome.trials
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    failed = [t for t in trials if t.state == TrialState.FAIL]
    hits = [k.trial for k in outcome.kills if k.trial is not None]
    recovered = [
        n for n in hits
        if trials[n].state == TrialState.FAIL
        and (r := final_retry(trials, n)) is not None and r.state == TrialState.COMPLETE
    ]  # fmt: skip
    prints = fingerprints(trials)
    left = sum(t.state in (TrialState.RUNNING, TrialState.WAITING) for t in trials)
    whole = len(complete) == outcome.n_trials and left == 0
    return {
        "kills": len(outcome.kills),
        "kills survived": len(outcome.kills) if whole else 0,
        "killed trials": len(hits),
        "killed trials FAIL, retried, COMPLETE": len(recovered),
        "COMPLETE": len(complete),
        "FAIL": len(failed),
        "FAIL not retried": sum(retry_of(trials, t.number) is None for t in failed),
        "left RUNNING/WAITING": left,
        "trials lost": max(0, outcome.n_trials - len(complete)),
        "duplicates": len(prints) - len(set(prints)),
        "bad weights": len(weights_problems(trials, outcome.artifact_dir)),
        "wall s": round(outcome.wall, 1),
    }  # fmt: skip


# ---------------------------------------------------------------- the benchmark
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default="postgresql,redis")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="also write the markdown report here")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    load = os.getloadavg()[0]
    rows = []
    for kind in args.kinds.split(","):
        with throwaway_study(kind, "faults") as (url, name), tempfile.TemporaryDirectory() as tmp:
            outcome = chaos_search(url, name, Path(tmp), n_trials=args.trials, workers=args.workers,
                                   kills=args.kills, seed=args.seed)  # fmt: skip
            numbers = figures(outcome)
            print(f"{kind}: {numbers}", file=sys.stderr, flush=True)
            rows.append((kind, hide_password(URLS[kind]), numbers, outcome.kills))
    command = " ".join(["python -m benchmarks.fault_tolerance", *sys.argv[1:]])
    lines = [
        "# Faults, counted: workers killed with SIGKILL mid-trial",
        "",
        f"Command: `{command}`  ",
        f"Machine: {machine()}; load average {load:.1f} at the start; "
        f"date: {datetime.date.today().isoformat()}",
        "",
        f"{args.trials}-trial `optuna-nas search` plus `optuna-nas worker` processes, "
        f"{args.workers} at a time, on one study (synthetic data, NB201 cell with 4 channels and "
        "1 cell per stage, 1 epoch, `--heartbeat-interval 1 --grace-period 3 --max-retry 3`, "
        f"LEMONADE). When {', '.join(map(str, kill_points(args.trials, args.kills)))} trials are "
        "COMPLETE, a random worker that is running a trial gets SIGKILL and a new worker takes "
        "its place (a kill that lands just after its trial finished does not count and is "
        "repeated). *Kills survived*: kills after which the budget still ended COMPLETE; "
        "*trials lost*: "
        "budget trials that never became COMPLETE; *duplicates*: COMPLETE trials whose "
        "architecture (canonical fingerprint) another COMPLETE trial has; *bad weights*: "
        "COMPLETE trials whose weights artifact is missing or fails its sha256.",
        "",
        "| storage | kills survived | killed trials FAIL → retried → COMPLETE | COMPLETE | "
        "FAIL | left RUNNING | trials lost | duplicates | bad weights | wall (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, url, n, _ in rows:
        lines.append(
            f"| {kind} (`{url}`) | {n['kills survived']} of {n['kills']} | "
            f"{n['killed trials FAIL, retried, COMPLETE']} of "
            f"{n['killed trials']} | {n['COMPLETE']} | {n['FAIL']} | {n['left RUNNING/WAITING']} | "
            f"{n['trials lost']} | "
            f"{n['duplicates']} | {n['bad weights']} | {n['wall s']} |"
        )
    lines += ["", "Kills (seconds after the search started → trial hit):", ""]
    for kind, _, _, kills in rows:
        hits = ", ".join(
            f"{k.at:.0f} s → trial {k.trial}" if k.trial is not None
            else f"{k.at:.0f} s → after its trial had just finished (one more kill followed)"
            for k in kills
        )  # fmt: skip
        lines.append(f"- {kind}: {hits}")
    emit(lines, args.out)


if __name__ == "__main__":
    main()
