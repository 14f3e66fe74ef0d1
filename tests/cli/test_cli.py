import json
import subprocess
import sys

import optuna
import pytest
import torch

from optuna_nas import Architecture
from optuna_nas.data import load_data
from optuna_nas.networks import build_network
from optuna_nas.training import load_weights

OPTIONS = {"--dataset": "synthetic", "--channels": "4", "--cells": "1", "--epochs": "1",
           "--batch-size": "64", "--val-size": "200", "--train-size": "600", "--threads": "1"}  # fmt: skip
SMALL = [*(x for kv in OPTIONS.items() for x in kv), "--no-progress"]


def _cli(tmp_path, *args, check=True):
    done = subprocess.run([sys.executable, "-m", "optuna_nas.cli", *args],
                          cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
    if check and done.returncode != 0:
        raise AssertionError(f"exit {done.returncode}\n{done.stdout}\n{done.stderr}")
    return done


def test_search_resume_front_and_export(tmp_path):
    first = _cli(tmp_path, "search", *SMALL, "--n-trials", "2", "--sampler", "random")
    assert (
        "Pareto front" in first.stdout
        and "optuna-dashboard sqlite:///optuna_nas.db" in first.stdout
    )
    # The same study name resumes: only the missing trial runs.
    second = _cli(tmp_path, "search", *SMALL, "--n-trials", "3", "--sampler", "random")
    assert "2 finished trial(s), 1 to go" in second.stderr + second.stdout
    study = optuna.load_study(study_name="nas-nb201-synthetic",
                              storage=f"sqlite:///{tmp_path}/optuna_nas.db")  # fmt: skip
    assert [t.state.name for t in study.trials] == ["COMPLETE"] * 3

    front = _cli(tmp_path, "front", "--study-name", "nas-nb201-synthetic")
    assert "error" in front.stdout and "params" in front.stdout

    _cli(tmp_path, "export", "--trial", "1", "--out", "exported")
    out = tmp_path / "exported"
    meta = json.loads((out / "model.json").read_text())
    assert meta["trial"] == 1 and meta["input_shape"] == [3, 16, 16]
    arch = Architecture.from_json((out / "architecture.json").read_text())
    model = build_network(arch, 3, 10).eval()
    model.load_state_dict(load_weights(out / "weights.safetensors"), strict=True)
    x = load_data("synthetic").test_x[:8].float() / 255
    norm = study.user_attrs["nas:normalization"]
    mean, std = (torch.tensor(norm[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
    with torch.no_grad():
        expected = model((x - mean) / std)
        scripted = torch.jit.load(str(out / "model.torchscript.pt"))(x)
        program = torch.export.load(str(out / "model.pt2")).module()(x)
    torch.testing.assert_close(scripted, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(program, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sampler", "bogus"], "unknown sampler 'bogus'"),
        (["--objectives", "error,size"], "unknown objective 'size'"),
        (["--dataset", "nope"], "unknown dataset 'nope'"),
        (["--storage", "postgresql://nobody@127.0.0.1:1/none"], "cannot open storage"),
    ],
)
def test_bad_input_is_one_clear_error(tmp_path, args, message):
    options = {**OPTIONS, **dict(zip(args[::2], args[1::2], strict=True))}
    argv = [x for kv in options.items() for x in kv]
    done = _cli(tmp_path, "search", *argv, "--no-progress", "--n-trials", "1", check=False)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_default_validation_split_is_a_fraction_that_fits_any_dataset():
    from optuna_nas.cli import build_parser

    assert build_parser().parse_args(["search"]).val_size == 0.1
    assert build_parser().parse_args(["search", "--val-size", "300"]).val_size == 300
    assert build_parser().parse_args(["search", "--val-size", "0.2"]).val_size == 0.2
