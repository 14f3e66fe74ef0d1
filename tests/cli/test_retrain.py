import hashlib
import json

import optuna
import torch

from optuna_nas import Architecture
from optuna_nas.data import load_data
from optuna_nas.networks import build_network
from optuna_nas.training import load_weights
from tests.cli.test_cli import SMALL, _cli, _main


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_retrain_then_front_and_export_use_the_final_weights(tmp_path, monkeypatch, capsys):
    def cli(*argv):  # in this process: the commands' own code paths, without start-up time
        from optuna_nas.cli import main

        monkeypatch.chdir(tmp_path)
        code = main(list(argv))
        captured = capsys.readouterr()
        assert code == 0, captured.err
        return captured  # .out, .err

    _cli(tmp_path, "search", *SMALL, "--sampler", "random", "--n-trials", "3")
    storage = f"sqlite:///{tmp_path}/optuna_nas.db"
    study = optuna.load_study(study_name="nas-nb201-synthetic", storage=storage)
    best = min(study.best_trials, key=lambda t: t.number).number
    other = next(t.number for t in study.trials if t.number != best)
    chosen = sorted([best, other])

    done = cli("retrain", "--trials", ",".join(map(str, chosen)), "--epochs", "1",
                "--threads", "1", "--no-progress")  # fmt: skip
    final = optuna.load_study(study_name="nas-nb201-synthetic:final", storage=storage)
    records = {t.user_attrs["source_trial"]: t for t in final.trials}
    assert sorted(records) == chosen and all(t.state.name == "COMPLETE" for t in final.trials)
    for number, record in records.items():
        accuracy = record.user_attrs["test_accuracy"]
        assert f"trial {number}: epoch 1/1 test acc {accuracy:.4f}" in done.out
        assert record.user_attrs["train_images"] == 800  # the search's 600 + 200 validation
        assert record.user_attrs["test_images"] == 600
    assert "Final training of nas-nb201-synthetic" in done.out
    # Rerun: both are finished with this recipe, nothing trains again.
    again = cli("retrain", "--trials", ",".join(map(str, chosen)), "--epochs", "1")
    assert "epoch 1/1" not in again.out and len(final.get_trials()) == 2

    # front (no --study-name: the companion study is not a candidate) shows the final columns.
    front = cli("front")
    assert "final test acc" in front.out and "final epochs" in front.out
    row = next(line for line in front.out.splitlines() if line.startswith(f"│ {best} "))
    cells = [cell.strip() for cell in row.split("│")]
    assert f"{records[best].user_attrs['test_accuracy']:.4f}" in cells and "1" in cells

    cli("export", "--trial", str(best), "--out", "final")
    out = tmp_path / "final"
    meta = json.loads((out / "model.json").read_text())
    assert meta["weights"] == "final"
    assert meta["final"]["epochs"] == 1
    assert meta["final"]["test_accuracy"] == records[best].user_attrs["test_accuracy"]
    assert _sha256(out / "weights.safetensors") == records[best].user_attrs["weights_sha256"]
    arch = Architecture.from_json((out / "architecture.json").read_text())
    model = build_network(arch, 3, 10).eval()
    model.load_state_dict(load_weights(out / "weights.safetensors"), strict=True)
    x = load_data("synthetic").test_x[:8].float() / 255
    norm = records[best].user_attrs["normalization"]
    mean, std = (torch.tensor(norm[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
    with torch.no_grad():
        expected = model((x - mean) / std)
        scripted = torch.jit.load(str(out / "model.torchscript.pt"))(x)
    torch.testing.assert_close(scripted, expected, atol=1e-5, rtol=1e-5)

    searched = cli("export", "--trial", str(best), "--out", "search", "--weights", "search")
    assert "(search weights)" in searched.out
    assert json.loads((tmp_path / "search" / "model.json").read_text())["weights"] == "search"
    search_sha = study.trials[best].user_attrs["weights_sha256"]
    assert _sha256(tmp_path / "search" / "weights.safetensors") == search_sha


def test_bad_trials_are_one_clear_error(tmp_path, monkeypatch, capsys):
    code, err = _main(tmp_path, monkeypatch, capsys, "search", *SMALL, "--n-trials", "1",
                      "--sampler", "random")  # fmt: skip
    assert code == 0, err
    code, err = _main(tmp_path, monkeypatch, capsys, "retrain", "--trials", "0,7")
    assert code == 2 and "Traceback" not in err
    assert err.strip() == (
        "optuna-nas retrain: error: study 'nas-nb201-synthetic' has no trial 7 (its trials: 0-0)."
    )
    code, err = _main(tmp_path, monkeypatch, capsys, "export", "--trial", "0", "--out", "o",
                      "--weights", "final")  # fmt: skip
    assert code == 2 and "has no final training with weights" in err
    storage = f"sqlite:///{tmp_path}/optuna_nas.db"
    assert optuna.get_all_study_names(storage) == ["nas-nb201-synthetic"]  # nothing recorded
