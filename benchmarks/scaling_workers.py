"""Trials per minute with 1, 2 (or 4) worker processes on one study, short trials.

Run: ``python -m benchmarks.scaling_workers [--storage URL] [--trials 40] [--out FILE]``,
or on one GPU ``python -m benchmarks.scaling_workers --device cuda --storage URL``

Every configuration runs the same ``--trials`` architectures (sampled once with a
fixed seed and queued in a fresh study) through ``optuna-nas search --workers W``:
real training on Fashion-MNIST (3,000 images, 1 epoch, NB201 cell with 8 channels),
weights uploaded, heartbeat on. Reported: the wall-clock of the whole command
(process start-up included) and the throughput while trials ran (first trial start
to last trial end, from the storage's timestamps). Configurations on the CPU: 1 worker
with 1 and with 2 torch threads, 2 workers with 1 thread each. With ``--device cuda``:
K = 1, 2 and 4 workers packed on one GPU (``--workers K --trials-per-gpu K``), 2 torch
threads each, trials sized by ``--train-size`` and ``--epochs``. Timing-sensitive: run
it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import datetime
import subprocess
import sys
import tempfile
import time
import uuid

import optuna
import torch

from benchmarks._report import emit, machine
from optuna_nas import NB201Space, create_study
from optuna_nas.workers import hide_password, storage_from_url

CONFIGS = {"cpu": [(1, 1), (1, 2), (2, 1)],  # (workers, torch threads per worker)
           "cuda": [(1, 2), (2, 2), (4, 2)]}  # workers packed on one GPU  # fmt: skip
SPACE = NB201Space(channels=8, cells=1)


def search_args(device: str, train_size: int, epochs: int) -> list[str]:
    return ["--space", "nb201", "--channels", "8", "--cells", "1", "--dataset", "fashion-mnist",
            "--train-size", str(train_size), "--val-size", "1000", "--test-size", "1000",
            "--epochs", str(epochs), "--batch-size", "256", "--sampler", "random",
            "--no-progress", "--device", device]  # fmt: skip


def run_config(url: str, workers: int, threads: int, n_trials: int, seed: int,
               search: list[str]) -> dict:  # fmt: skip
    """One configuration in a fresh study; the study is deleted afterwards."""
    name = f"scaling-{uuid.uuid4().hex[:8]}"
    storage = storage_from_url(url)
    study = create_study(["error", "params"], storage=storage, study_name=name)
    rng_archs = [SPACE.sample(seed + i) for i in range(n_trials)]
    for arch in rng_archs:  # the same workload for every configuration
        study.enqueue_trial(SPACE.to_params(arch))
    command = [sys.executable, "-m", "optuna_nas.cli", "search", *search, "--storage", url,
               "--study-name", name, "--n-trials", str(n_trials), "--workers", str(workers),
               "--threads", str(threads)]  # fmt: skip
    if search[search.index("--device") + 1] == "cuda":
        command += ["--trials-per-gpu", str(workers)]
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        done = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
        wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    trials = optuna.load_study(study_name=name, storage=storage).trials
    optuna.delete_study(study_name=name, storage=storage)
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == n_trials, f"{len(complete)} of {n_trials} trials completed"
    span = (max(t.datetime_complete for t in complete) - min(t.datetime_start for t in complete)).total_seconds()  # fmt: skip
    train = sum(t.user_attrs["train_seconds"] for t in complete) / n_trials
    return {"workers": workers, "threads": threads, "wall": wall, "span": span, "train": train,
            "per_min_span": 60 * n_trials / span, "per_min_wall": 60 * n_trials / wall}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", choices=sorted(CONFIGS), default="cpu")
    parser.add_argument("--train-size", type=int, default=3000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", default=None, help="also write the markdown report here")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = search_args(args.device, args.train_size, args.epochs)
    results = []
    for workers, threads in CONFIGS[args.device]:
        results.append(run_config(args.storage, workers, threads, args.trials, args.seed, search))
        r = results[-1]
        print(f"{workers} worker(s) x {threads} thread(s): {r['per_min_span']:.1f} trials/min "
              f"while running, {r['wall']:.1f} s wall", file=sys.stderr, flush=True)  # fmt: skip
    base = results[0]["per_min_span"]
    command = " ".join(["python -m benchmarks.scaling_workers", *sys.argv[1:]])
    where = machine()
    if args.device == "cuda":
        where = f"{torch.cuda.get_device_name()} (GPU), {where}; torch {torch.__version__}"
    packed = " --trials-per-gpu W` (all W on one GPU)" if args.device == "cuda" else "`"
    lines = [
        f"# Scaling: worker processes on one study ({args.device})",
        "",
        f"Command: `{command}`  ",
        f"Machine: {where}; storage {hide_password(args.storage)}; date: {datetime.date.today()}",
        "",
        f"{args.trials} short trials per configuration, the same architectures each time (NB201 "
        f"cell, 8 channels, 1 cell per stage; Fashion-MNIST {args.train_size:,} training images, "
        f"{args.epochs} epoch(s), batch 256; weights uploaded as artifacts; heartbeat on). "
        f"`optuna-nas search --device {args.device} --workers W --threads T{packed}. "
        "*While running*: first trial start to last trial end, from the storage's timestamps; "
        "*wall*: the whole command, process start-up included.",
        "",
        "| workers | threads / worker | trials/min while running | trials/hour while running | trials/min wall | wall (s) | mean train s / trial | speed-up (running) |",  # noqa: E501
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['workers']} | {r['threads']} | {r['per_min_span']:.1f} "
            f"| {60 * r['per_min_span']:,.0f} | {r['per_min_wall']:.1f} "
            f"| {r['wall']:.1f} | {r['train']:.2f} | {r['per_min_span'] / base:.2f}x |"
        )
    emit(lines, args.out)


if __name__ == "__main__":
    main()
