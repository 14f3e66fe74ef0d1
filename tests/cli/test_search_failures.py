"""A search whose trials fail: it carries on, says why, and exits 1 only when none completed."""

from __future__ import annotations

import optuna
from optuna.trial import TrialState

from optuna_nas.cli import main
from optuna_nas.objectives import register_objective

SMALL = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
         "--batch-size", "64", "--val-size", "100", "--train-size", "200", "--test-size", "100",
         "--threads", "1", "--sampler", "random", "--no-progress"]  # fmt: skip


def _board_not_connected(arch, **_):
    raise RuntimeError("no board on /dev/ttyUSB0; plug it in")


def _board_for_one_cell_only(arch, **_):
    if arch.cells != 1:
        raise RuntimeError("the board holds one cell per stage")
    return 1.0


register_objective("board_latency", "minimize", cheap=True, fn=_board_not_connected,
                   overwrite=True)  # fmt: skip
register_objective("board_fit", "minimize", cheap=True, fn=_board_for_one_cell_only,
                   overwrite=True)  # fmt: skip


def test_a_search_where_every_trial_fails_exits_1_naming_the_reason(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code = main(["search", *SMALL, "--objectives", "error,board_latency", "--n-trials", "3"])
    err = capsys.readouterr().err
    assert code == 1, err
    assert "all 3 trial(s) of this run failed" in err
    assert "no board on /dev/ttyUSB0; plug it in" in err
    assert "Traceback" not in err
    study = optuna.load_study(study_name="nas-nb201-synthetic", storage="sqlite:///optuna_nas.db")
    assert [t.state for t in study.trials] == [TrialState.FAIL] * 3


def test_a_search_where_some_trials_fail_completes_the_rest_and_exits_0(
    tmp_path, monkeypatch, capsys
):
    monkeypatch.chdir(tmp_path)
    # Cells 1 or 2 per stage: some trials fail, the others complete.
    argv = ["search", *SMALL, "--cells", "1,2", "--objectives", "error,board_fit", "--seed", "3"]
    code = main([*argv, "--n-trials", "6"])
    err = capsys.readouterr().err
    study = optuna.load_study(study_name="nas-nb201-synthetic", storage="sqlite:///optuna_nas.db")
    states = [t.state for t in study.trials]
    assert code == 0, err
    assert TrialState.FAIL in states and TrialState.COMPLETE in states, states
    failed = states.count(TrialState.FAIL)
    assert f"note: {failed} trial(s) failed" in err
    assert "the board holds one cell per stage" in err
    # Running the same command again replaces the failed trials (FAIL does not count).
    assert main([*argv, "--n-trials", "6"]) == 0
    study = optuna.load_study(study_name="nas-nb201-synthetic", storage="sqlite:///optuna_nas.db")
    assert len(study.trials) == 6 + failed
