"""``export_model`` on a hand-made network: every file, and the other two when ONNX cannot."""

import numpy as np
import onnxruntime
import torch
from torch import nn

from optuna_nas.final import export_model


@torch.library.custom_op("optuna_nas_final_test::double", mutates_args=())
def _double(x: torch.Tensor) -> torch.Tensor:
    """An op torch traces and ONNX has no function for, like a user's own CUDA kernel."""
    return x * 2


@_double.register_fake
def _(x: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


class _Doubled(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _double(x)


def _network(*extra: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), *extra,
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))  # fmt: skip


def test_the_onnx_file_takes_any_batch_and_computes_what_the_network_computes(tmp_path):
    network = _network()
    exported = export_model(network, tmp_path / "o", input_shape=(1, 8, 8), mean=[0.3], std=[0.2])
    assert exported.files == ("model.torchscript.pt", "model.pt2", "model.onnx")
    assert exported.onnx_error is None and exported.onnx_max_abs_diff < 1e-4
    session = onnxruntime.InferenceSession(str(tmp_path / "o" / "model.onnx"))
    for n in (1, 6):
        x = torch.rand(n, 1, 8, 8)
        with torch.no_grad():
            expected = network((x - 0.3) / 0.2).numpy()
        (got,) = session.run(None, {"images": x.numpy()})
        assert np.abs(got - expected).max() < 1e-4


def test_an_op_onnx_lacks_leaves_the_other_files_and_names_the_op(tmp_path):
    network = _network(_Doubled())
    exported = export_model(network, tmp_path, input_shape=(1, 8, 8), mean=[0.3], std=[0.2])
    assert exported.files == ("model.torchscript.pt", "model.pt2")
    assert exported.onnx_max_abs_diff is None
    assert exported.onnx_error == (
        "model.onnx not written: the ONNX exporter has no conversion for the op "
        "optuna_nas_final_test.double"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.pt2", "model.torchscript.pt"]
    x = torch.rand(2, 1, 8, 8)
    program = torch.export.load(str(tmp_path / "model.pt2")).module()
    with torch.no_grad():
        torch.testing.assert_close(program(x), network((x - 0.3) / 0.2))
