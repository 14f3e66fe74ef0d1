"""``optuna-nas export``: TorchScript, torch.export and ONNX files of a searched trial that
compute what the network computes, for NB201 and DARTS; without ONNX's packages or for an op
its exporter lacks, the other files and one line saying why."""

import json
import sys

import numpy as np
import onnxruntime
import optuna
import pytest
import torch

from optuna_nas import Architecture
from optuna_nas.networks import DARTS_FACTORIES, NB201_FACTORIES, build_network
from optuna_nas.storage import keys
from optuna_nas.training import load_weights

SEARCH = ["--dataset", "synthetic", "--channels", "4", "--cells", "1", "--epochs", "1",
          "--batch-size", "64", "--val-size", "100", "--train-size", "200", "--test-size", "100",
          "--threads", "1", "--sampler", "random", "--n-trials", "1", "--no-progress"]  # fmt: skip
# TorchScript is deprecated, still written for the serving stacks that load only it.
pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit.load` is deprecated:FutureWarning")
FILES = ["model.torchscript.pt", "model.pt2", "model.onnx", "weights.safetensors",
         "architecture.json", "model.json", "README.md"]  # fmt: skip


@torch.library.custom_op("optuna_nas_cli_test::double", mutates_args=())
def _double(x: torch.Tensor) -> torch.Tensor:
    """An op torch traces and ONNX has no function for, like a user's own CUDA kernel."""
    return x * 2


@_double.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


def _main(argv, capsys):
    """``optuna-nas ARGV`` in this process: exit code, stdout, stderr."""
    from optuna_nas.cli import main

    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module", params=["nb201", "darts"])
def searched(request, tmp_path_factory):
    """A one-trial search of the space (its storage URL and study)."""
    root = tmp_path_factory.mktemp(request.param)
    db = f"sqlite:///{root}/nas.db"
    argv = ["search", *SEARCH, "--space", request.param, "--storage", db,
            "--artifact-dir", root / "artifacts"]  # fmt: skip
    from optuna_nas.cli import main

    assert main([str(a) for a in argv]) == 0
    (name,) = optuna.get_all_study_names(db)
    return db, optuna.load_study(study_name=name, storage=db)


def _export(searched, out, capsys, *extra):
    db, study = searched
    return _main(["export", "--storage", db, "--study-name", study.study_name, "--trial", 0,
                  "--out", out, *extra], capsys)  # fmt: skip


def test_every_file_computes_what_the_network_computes(searched, tmp_path, capsys):
    _, study = searched
    code, out, err = _export(searched, tmp_path / "o", capsys)
    assert code == 0, err
    assert err == ""
    assert out.strip().endswith(", ".join(FILES)) and "exported trial 0 (search weights)" in out
    o = tmp_path / "o"
    assert sorted(p.name for p in o.iterdir()) == sorted(FILES)
    meta = json.loads((o / "model.json").read_text())
    assert set(meta["load"]) == {"model.torchscript.pt", "model.pt2", "model.onnx"}
    assert "max abs difference" in meta["onnx_check"]
    readme = (o / "README.md").read_text()
    assert 'onnxruntime.InferenceSession("model.onnx")' in readme and meta["architecture"] in readme

    arch = Architecture.from_json((o / "architecture.json").read_text())
    assert arch == Architecture.from_json(study.trials[0].user_attrs[keys.ARCH_JSON])
    network = build_network(arch, 3, 10).eval()
    network.load_state_dict(load_weights(o / "weights.safetensors"), strict=True)
    norm = study.user_attrs[keys.STUDY_NORMALIZATION]
    mean, std = (torch.tensor(norm[k]).view(1, -1, 1, 1) for k in ("mean", "std"))
    scripted = torch.jit.load(str(o / "model.torchscript.pt"))
    program = torch.export.load(str(o / "model.pt2")).module()
    session = onnxruntime.InferenceSession(
        str(o / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    assert [i.name for i in session.get_inputs()] == ["images"]
    generator = torch.Generator().manual_seed(0)
    for n in (1, 7):  # the batch axis is dynamic in every file
        x = torch.rand(n, 3, 16, 16, generator=generator)
        with torch.no_grad():
            expected = network((x - mean) / std)
            torch.testing.assert_close(scripted(x), expected, atol=1e-5, rtol=1e-5)
            torch.testing.assert_close(program(x), expected, atol=1e-5, rtol=1e-5)
        (onnx,) = session.run(None, {"images": x.numpy()})
        assert onnx.shape == (n, 10)
        assert np.abs(onnx - expected.numpy()).max() < 1e-4


def test_without_onnxruntime_the_other_files_are_written_and_one_line_says_how(
    searched, tmp_path, monkeypatch, capsys
):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # what an install without the extra has
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "model.onnx").write_bytes(b"an older export's")
    code, out, err = _export(searched, tmp_path / "o", capsys)
    assert code == 0, err
    assert err.splitlines() == [
        "optuna-nas export: trial 0: model.onnx needs onnxruntime: pip install 'optuna-nas[onnx]'"
    ]
    assert "model.onnx" not in out
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(set(FILES) - {"model.onnx"})
    meta = json.loads((tmp_path / "o" / "model.json").read_text())
    assert set(meta["load"]) == {"model.torchscript.pt", "model.pt2"} and "onnx_check" not in meta
    assert "onnxruntime" not in (tmp_path / "o" / "README.md").read_text()


def test_an_op_the_onnx_exporter_lacks_is_named_with_the_trial(
    searched, tmp_path, monkeypatch, capsys
):
    def with_custom_op(factory):
        def build(*args):
            op = factory(*args)
            op.register_forward_hook(lambda module, inputs, output: _double(output) / 2)
            return op

        return build

    for factories in (NB201_FACTORIES, DARTS_FACTORIES):  # no new parameters: the weights fit
        for name, factory in list(factories.items()):
            monkeypatch.setitem(factories, name, with_custom_op(factory))
    code, out, err = _export(searched, tmp_path / "o", capsys)
    assert code == 0, err
    assert "Traceback" not in err
    assert err.splitlines() == [
        "optuna-nas export: trial 0: model.onnx not written: the ONNX exporter has no "
        "conversion for the op optuna_nas_cli_test.double"
    ]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(set(FILES) - {"model.onnx"})
    scripted = torch.jit.load(str(tmp_path / "o" / "model.torchscript.pt"))
    assert scripted(torch.rand(2, 3, 16, 16)).shape == (2, 10)


def test_a_malformed_architecture_json_is_one_clear_error(tmp_path, monkeypatch, capsys):
    db = f"sqlite:///{tmp_path}/optuna_nas.db"
    study = optuna.create_study(study_name="s", storage=db)
    study.add_trial(optuna.trial.create_trial(
        value=0.5, user_attrs={"arch": "{not json", "weights_artifact_id": "x"}))  # fmt: skip
    monkeypatch.chdir(tmp_path)
    code, _, err = _main(["export", "--trial", "0", "--out", "out"], capsys)
    assert code == 2 and "Architecture JSON is malformed" in err
    assert not (tmp_path / "out").exists()
