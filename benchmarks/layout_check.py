"""Same search, two commits: does a change of layout leave the trials' figures as they were?

Runs one small real search (``optuna-nas search``, random sampler, Fashion-MNIST) at a
reference commit (checked out in a temporary git worktree) and at the working tree, and
compares every trial's architecture, objective values and test accuracy. Training is
seeded, so on one machine a behaviour-preserving change gives bit-identical values.

The default search trains 10 epochs per trial because short schedules stopped augmenting
in the restructure's commit (an intended change, ``TrainConfig.augment``); at 10 epochs
both sides augment alike.

    python -m benchmarks.layout_check --ref 8b04749 --out benchmarks/results/layout_check.md
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import tempfile
import time

import optuna

from benchmarks._report import emit, machine

SEARCH = (
    "search --dataset fashion-mnist --sampler random --n-trials 4 --epochs 10 "
    "--train-size 2000 --val-size 1000 --test-size 1000 --channels 4,8 --cells 1 "
    "--batch-size 128 --threads 2 --no-progress"
)
STUDY = "nas-nb201-fashion-mnist"


def run_search(code: str, folder: str, search: str) -> tuple[list[tuple], float]:
    """The trials of ``search`` run with the package at ``code``, in ``folder``."""
    env = dict(os.environ, PYTHONPATH=code)
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "optuna_nas.cli", *search.split()],
        cwd=folder, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if result.returncode:
        sys.exit(f"the search at {code} failed:\n{result.stderr[-3000:]}")
    seconds = time.perf_counter() - start
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=STUDY, storage=f"sqlite:///{folder}/optuna_nas.db")
    rows = [
        (t.number, t.user_attrs.get("arch_str"), tuple(t.values or ()),
         t.user_attrs.get("test_accuracy"))
        for t in study.trials
    ]  # fmt: skip
    return rows, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", required=True, help="the commit to compare against")
    parser.add_argument("--search", default=SEARCH, help="optuna-nas arguments")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    root = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True,
                          text=True, check=True).stdout.strip()  # fmt: skip
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, check=True, cwd=root).stdout.strip()  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "ref")
        subprocess.run(["git", "worktree", "add", "--detach", "-f", old, args.ref],
                       cwd=root, check=True, capture_output=True)  # fmt: skip
        try:
            os.makedirs(os.path.join(tmp, "a"))
            os.makedirs(os.path.join(tmp, "b"))
            ref_rows, ref_s = run_search(old, os.path.join(tmp, "a"), args.search)
            new_rows, new_s = run_search(root, os.path.join(tmp, "b"), args.search)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", old], cwd=root,
                           capture_output=True)  # fmt: skip
    same = ref_rows == new_rows
    lines = [
        "# Layout check: one Fashion-MNIST search at two commits",
        "",
        f"- command: `python -m benchmarks.layout_check --ref {args.ref}` "
        f"(search: `optuna-nas {args.search}`)",
        f"- machine: {machine()}; date: {datetime.date.today().isoformat()}",
        f"- reference {args.ref} ({ref_s:.0f} s) against the working tree at {head} "
        f"({new_s:.0f} s)",
        "",
        "| trial | architecture | values (ref) | values (now) | test acc (ref) | test acc (now) |",
        "|---|---|---|---|---|---|",
    ]
    for (n, arch, v_ref, acc_ref), (_, arch_new, v_new, acc_new) in zip(
        ref_rows, new_rows, strict=False
    ):
        name = (arch if arch == arch_new else f"{arch} / {arch_new}").replace("|", "\\|")
        lines.append(f"| {n} | `{name}` | {list(v_ref)} | {list(v_new)} | {acc_ref} | {acc_new} |")
    lines += ["", f"Every trial identical (architecture, values to the last bit, test accuracy): "
              f"**{'yes' if same else 'no'}**."]  # fmt: skip
    emit(lines, args.out)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
