"""``optuna-nas search --sampler tnd``: the whole TND-NAS driver from the command line."""

import subprocess
import sys

import optuna

from optuna_nas.storage import keys
from optuna_nas.tnd import _state

OPTIONS = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
           "--batch-size", "64", "--val-size", "200", "--train-size", "384", "--test-size", "200",
           "--threads", "1", "--no-progress"]  # fmt: skip


def _cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-m", "optuna_nas.cli", *args], cwd=tmp_path,
                          capture_output=True, text=True)  # fmt: skip


def test_search_with_tnd_runs_the_whole_driver_with_progress_per_stage(tmp_path):
    done = _cli(tmp_path, "search", "--sampler", "tnd", "--n-trials", "1", *OPTIONS)
    assert done.returncode == 0, done.stderr
    out = done.stdout + done.stderr
    for stage in (1, 2, 3):
        assert f"stage {stage}/3" in out and f"stage {stage} done" in out
    assert "Pareto front of the derived architectures" in done.stdout
    study = optuna.load_study(study_name="nas-nb201-synthetic",
                              storage=f"sqlite:///{tmp_path}/optuna_nas.db")  # fmt: skip
    fidelities = [t.user_attrs["fidelity"] for t in study.trials]
    assert fidelities.count("supernet") == 3 * 4 * 16  # 3 stages, 4 α updates, pools of 16
    assert fidelities.count("full") == 1
    assert _state.published(study)[keys.TND_STAGE]["status"] == "done"
    assert list((tmp_path / "artifacts").iterdir())  # the full trials' weights


def test_tnd_refuses_several_workers_with_one_clear_error(tmp_path):
    done = _cli(tmp_path, "search", "--sampler", "tnd", "--n-trials", "2", "--workers", "2",
                *OPTIONS)  # fmt: skip
    assert done.returncode == 2 and "--workers does not apply" in done.stderr
    assert "Traceback" not in done.stderr
