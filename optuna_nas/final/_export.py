"""A trained network as files that serve without optuna-nas: TorchScript, torch.export, ONNX.

Optuna-free, like :func:`~optuna_nas.final.train_final`: ``optuna-nas export`` calls
:func:`export_model` on a trial's network and adds the weights and the study's records;
a hand-made network is exported the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

ONNX_INSTALL = "pip install 'optuna-nas[onnx]'"
"""How to get what ``model.onnx`` needs (onnx, onnxruntime, onnxscript)."""
ONNX_ATOL = 1e-4
"""The largest difference between onnxruntime's and PyTorch's outputs ``model.onnx`` may have
(times the largest output, for outputs beyond 1)."""
_LOAD = {
    "model.torchscript.pt": "torch.jit.load('model.torchscript.pt')",
    "model.pt2": "torch.export.load('model.pt2').module()",
    "model.onnx": "onnxruntime.InferenceSession('model.onnx').run(None, {'images': x})[0]",
}


class Normalize(nn.Module):
    """Maps images in [0, 1] to the normalisation the network was trained with."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean)).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(list(std)).view(1, -1, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


@dataclass(frozen=True)
class ExportedModel:
    """What :func:`export_model` wrote.

    Attributes
    ----------
    load:
        Each file written, in the order written, and a Python expression that loads
        it (for ``model.onnx``: runs it on a float32 NumPy array ``x``).
    onnx_error:
        Why ``model.onnx`` is missing, one line; ``None`` when it was written and
        checked.
    onnx_max_abs_diff:
        The largest difference between onnxruntime's and PyTorch's outputs on the
        check's random images; ``None`` without ``model.onnx``.
    """

    load: dict[str, str]
    onnx_error: str | None = None
    onnx_max_abs_diff: float | None = None

    @property
    def files(self) -> tuple[str, ...]:
        """The names of the files written, in the order written."""
        return tuple(self.load)


def export_model(
    network: nn.Module,
    out: str | os.PathLike[str],
    *,
    input_shape: Sequence[int],
    mean: Sequence[float],
    std: Sequence[float],
) -> ExportedModel:
    """Write ``network`` with its input normalisation built in, for any batch size.

    The exported model takes float images in [0, 1] of shape ``(N, *input_shape)``
    and returns logits: ``model.torchscript.pt`` (``torch.jit.trace``; what most
    serving stacks still load), ``model.pt2`` (``torch.export``) and ``model.onnx``
    (``torch.onnx.export``, input ``images``, output ``logits``). ``model.onnx`` is
    kept only if onnxruntime computes PyTorch's outputs, within :data:`ONNX_ATOL`, on
    random images at batch sizes 1 and 3. Without onnx, onnxruntime and onnxscript, or
    for a network with an op the ONNX exporter lacks, the other two files are still
    written and :attr:`ExportedModel.onnx_error` says why ``model.onnx`` is not.

    Parameters
    ----------
    network:
        The trained network (its weights loaded); it is put in eval mode.
    out:
        The directory to write to; made if missing, files of the same names replaced.
    input_shape:
        ``(channels, height, width)`` of one image.
    mean, std:
        Per-channel normalisation the network was trained with, on [0, 1] images.

    Returns
    -------
    ExportedModel
        The files written and, where ``model.onnx`` is missing, why.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model = nn.Sequential(Normalize(mean, std), network.eval()).eval()
    example = torch.rand(2, *input_shape)
    with warnings.catch_warnings():
        # TorchScript is deprecated in favour of torch.export, but we write both.
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.trace(model, example).save(str(out / "model.torchscript.pt"))
    batch = torch.export.Dim("batch", min=1)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: batch},))
    torch.export.save(program, str(out / "model.pt2"))
    error, diff = _write_onnx(model, program, example, out / "model.onnx")
    files = ("model.torchscript.pt", "model.pt2") + (() if error else ("model.onnx",))
    return ExportedModel({f: _LOAD[f] for f in files}, onnx_error=error, onnx_max_abs_diff=diff)


def _write_onnx(
    model: nn.Module, program: torch.export.ExportedProgram, example: torch.Tensor, path: Path
) -> tuple[str | None, float | None]:
    """Export ``program`` to ``path`` and check it: ``(None, diff)`` or ``(why not, None)``."""
    path.unlink(missing_ok=True)  # a previous export's file must not pass for this one
    try:
        import onnxruntime  # noqa: F401 - checked here so that a missing one is named
        import onnxscript  # noqa: F401 - (the exporter imports onnxscript and onnx)
    except ImportError as exc:
        return f"model.onnx needs {exc.name}: {ONNX_INSTALL}", None
    with tempfile.TemporaryDirectory() as tmp:  # model.onnx appears only once it is checked
        written = Path(tmp) / "model.onnx"
        try:
            _onnx_export(program, written)
        except Exception as exc:  # noqa: BLE001 - any exporter failure leaves the other files
            return f"model.onnx not written: {_exporter_failure(exc)}", None
        try:
            diff, scale = _onnx_difference(model, written, example.shape[1:])
        except Exception as exc:  # noqa: BLE001 - an exported graph onnxruntime rejects
            reason = _first_line(exc)
            return f"model.onnx not written: onnxruntime cannot run it ({reason})", None
        if not diff <= ONNX_ATOL * scale:  # also NaN
            return (
                f"model.onnx not written: onnxruntime's outputs differ from PyTorch's by {diff:.2g}"
                f" (more than {ONNX_ATOL:g} x {scale:.3g})",
                None,
            )
        shutil.move(written, path)
    return None, diff


def _onnx_export(program: torch.export.ExportedProgram, path: Path) -> None:
    # From the torch.export program (its batch axis already dynamic): traced once, not twice.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's progress notes are not the user's
        torch.onnx.export(
            program,
            f=path,
            input_names=["images"],
            output_names=["logits"],
            dynamo=True,
            external_data=False,
            verbose=False,
        )


def _onnx_difference(model: nn.Module, path: Path, shape: Sequence[int]) -> tuple[float, float]:
    """The largest |onnxruntime - PyTorch| output on random images, and the outputs' scale.

    The scale (the largest |PyTorch output|, at least 1) makes the tolerance relative
    for large logits, where float32 rounding differs by more than 1e-4 between kernels.
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    diff, scale = 0.0, 1.0
    for n in (1, 3):  # two batch sizes, neither the example's: the batch axis is dynamic
        x = torch.rand(n, *shape)
        with torch.no_grad():
            expected = model(x).numpy()
        (got,) = session.run(None, {"images": x.numpy()})
        diff = max(diff, float(np.abs(got - expected).max()))
        scale = max(scale, float(np.abs(expected).max()))
    return diff, scale


_NO_FUNCTION = re.compile(r"No ONNX function found for <OpOverload\(op='([^']+)'")


def _exporter_failure(exc: BaseException) -> str:
    """One line for an ONNX export failure: the op it names, else the innermost error."""
    chain = [exc]
    while chain[-1].__cause__ is not None and len(chain) < 20:
        chain.append(chain[-1].__cause__)
    for error in chain:
        match = _NO_FUNCTION.search(str(error))
        if match is not None:
            return f"the ONNX exporter has no conversion for the op {match.group(1)}"
    return f"the ONNX exporter failed ({_first_line(chain[-1])})"


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
