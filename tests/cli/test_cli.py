import subprocess
import sys

import optuna
import pytest

OPTIONS = {"--dataset": "synthetic", "--channels": "4", "--cells": "1", "--epochs": "1",
           "--batch-size": "64", "--val-size": "200", "--train-size": "600", "--threads": "1"}  # fmt: skip
SMALL = [*(x for kv in OPTIONS.items() for x in kv), "--no-progress"]


def _cli(tmp_path, *args, check=True):
    done = subprocess.run([sys.executable, "-m", "optuna_nas.cli", *args],
                          cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def test_search_resume_and_front(tmp_path):  # export: tests/cli/test_export.py
    first = _cli(tmp_path, "search", *SMALL, "--n-trials", "2", "--sampler", "random")
    assert "Pareto front" in first.stdout
    assert "optuna-nas dashboard --storage sqlite:///optuna_nas.db --artifact-dir" in first.stdout
    # The same study name resumes: only the missing trial runs.
    second = _cli(tmp_path, "search", *SMALL, "--n-trials", "3", "--sampler", "random")
    assert "2 finished trial(s), 1 to go" in second.stderr + second.stdout
    # ... but not with settings that would make its trials incomparable.
    changed = _cli(tmp_path, "search", *SMALL, "--n-trials", "4", "--epochs", "2", check=False)
    assert changed.returncode == 2 and "--epochs was 1, now 2" in changed.stderr
    study = optuna.load_study(study_name="nas-nb201-synthetic",
                              storage=f"sqlite:///{tmp_path}/optuna_nas.db")  # fmt: skip
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3

    front = _cli(tmp_path, "front", "--study-name", "nas-nb201-synthetic")
    assert "error" in front.stdout and "params" in front.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sampler", "bogus"], "argument --sampler: invalid choice: 'bogus'"),
        (["--objectives", "error,size"], "unknown objective 'size'"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (
            ["--storage", "postgresql://nobody:pw@127.0.0.1:1/none"],
            "cannot open storage postgresql://nobody:***@127.0.0.1:1/none",
        ),
        (["--storage", "postgres.db"], "unsupported storage URL 'postgres.db'; use sqlite:///"),
        (["--workers", "0"], "argument --workers: must be an integer in [1, 1024], got '0'"),
        (["--n-trials", "0"], "argument --n-trials: must be an integer in [1, 100000], got '0'"),
        (["--n-initial", "0"], "argument --n-initial: must be an integer in [1, 100000], got '0'"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, monkeypatch, capsys, args, message):
    options = {**OPTIONS, **dict(zip(args[::2], args[1::2], strict=True))}
    argv = [x for kv in options.items() for x in kv]
    if "--n-trials" not in options:
        argv += ["--n-trials", "1"]
    code, err = _main(tmp_path, monkeypatch, capsys, "search", *argv, "--no-progress")
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert not (tmp_path / "artifacts").exists()  # nothing was trained


def _main(tmp_path, monkeypatch, capsys, *argv):
    """``optuna-nas ARGV`` in this process (the command's own code path, minus start-up)."""
    from optuna_nas.cli import main

    monkeypatch.chdir(tmp_path)
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_default_validation_split_is_a_fraction_that_fits_any_dataset():
    from optuna_nas.cli import build_parser

    assert build_parser().parse_args(["search"]).val_size == 0.1
    assert build_parser().parse_args(["search", "--val-size", "300"]).val_size == 300
    assert build_parser().parse_args(["search", "--val-size", "0.2"]).val_size == 0.2


def test_a_worker_needs_a_study_started_by_search(tmp_path, monkeypatch, capsys):
    code, err = _main(tmp_path, monkeypatch, capsys, "worker", "--study-name", "none")
    assert code == 2 and "no study 'none' in sqlite:///optuna_nas.db" in err
    optuna.create_study(study_name="plain", storage=f"sqlite:///{tmp_path}/optuna_nas.db")
    code, err = _main(tmp_path, monkeypatch, capsys, "worker", "--study-name", "plain")
    assert code == 2
    assert "was not started by 'optuna-nas search'" in err and "run_worker" in err


def test_short_searches_leave_the_samplers_room_to_evolve():
    from optuna_nas.cli._search import initial_trials

    # LEMONADE's own 20 random trials would fill a 16-trial quick start.
    assert initial_trials("lemonade", 16) == 4
    assert initial_trials("nao", 60) == 10 and initial_trials("lemonade", 60) == 15
    assert initial_trials("lemonade", 1000) == 20 and initial_trials("tpe", 1000) == 10
    assert initial_trials("random", 16) is None and initial_trials("tnd", 16) is None
    assert initial_trials("nsga2", 16) is None  # its population stays 8 unless given


def test_the_default_search_is_lemonade_and_evolves_after_n_initial(tmp_path, monkeypatch, capfd):
    from optuna_nas.cli import main

    monkeypatch.chdir(tmp_path)
    argv = [x for kv in OPTIONS.items() for x in kv]  # no --sampler: LEMONADE
    code = main(["search", *argv, "--n-trials", "5", "--n-initial", "3", "--no-progress"])
    out = capfd.readouterr().out
    assert code == 0, out
    study = optuna.load_study(study_name="nas-nb201-synthetic",
                              storage=f"sqlite:///{tmp_path}/optuna_nas.db")  # fmt: skip
    assert study.user_attrs["nas:search"]["sampler"] == "lemonade"
    assert study.user_attrs["nas:search"]["n_initial"] == 3
    # One line per trial, values as people read them: 4 digits, counts as integers.
    lines = [line for line in out.splitlines() if " COMPLETE " in line]
    assert len(lines) == 5
    for line, trial in zip(lines, study.trials, strict=True):
        assert f"trial {trial.number} COMPLETE error={trial.values[0]:.4g} " in line
        assert f" params={int(trial.values[1])} " in line and ".0 " not in line
    parents = [t.user_attrs.get("parent_trial") for t in study.trials]
    assert parents[:3] == [None] * 3
    assert all(p in (0, 1, 2, 3) for p in parents[3:]), parents  # children of the front


def test_n_initial_for_a_sampler_without_a_random_phase_is_a_note(tmp_path, monkeypatch, capsys):
    argv = [x for kv in OPTIONS.items() for x in kv]
    code, err = _main(tmp_path, monkeypatch, capsys, "search", *argv, "--sampler", "random",
                      "--n-trials", "1", "--n-initial", "5", "--no-progress")  # fmt: skip
    assert code == 0 and "--n-initial does not apply to --sampler random" in err


def test_a_search_runs_the_architectures_queued_in_a_new_study(tmp_path, monkeypatch, capfd):
    # Queued (WAITING) trials are work for the search, not a foreign study's history.
    from optuna_nas import NB201Space, create_study
    from optuna_nas.cli import main

    storage = f"sqlite:///{tmp_path}/optuna_nas.db"
    space = NB201Space(channels=4, cells=1)
    queued = create_study(["error", "params"], storage=storage, study_name="queued")
    archs = [space.sample(seed) for seed in (1, 2)]
    for arch in archs:
        queued.enqueue_trial(space.to_params(arch))
    monkeypatch.chdir(tmp_path)
    argv = [x for kv in OPTIONS.items() for x in kv]
    code = main(["search", *argv, "--study-name", "queued", "--n-trials", "2", "--no-progress"])
    assert code == 0, capfd.readouterr().out
    trials = optuna.load_study(study_name="queued", storage=storage).trials
    assert [t.state for t in trials] == [optuna.trial.TrialState.COMPLETE] * 2
    assert [t.params for t in trials] == [space.to_params(a) for a in archs]
