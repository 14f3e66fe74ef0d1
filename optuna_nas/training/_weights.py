"""Weights as safetensors files: never pickled, so shared storage cannot run code."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn


def save_weights(model: nn.Module, path: str | os.PathLike[str]) -> None:
    """Write ``model.state_dict()`` (parameters and buffers) as a safetensors file."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path))


def load_weights(path: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Read a safetensors file; anything else (e.g. a pickle) raises ``ValueError``."""
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not a safetensors weights file ({exc}); optuna-nas never unpickles weights."
        ) from None


@dataclass
class TransferReport:
    """Which entries of the child's state dict came from the parent."""

    copied: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "copied": len(self.copied),
            "shape_mismatch": len(self.shape_mismatch),
            "new": len(self.new),
        }


def transfer_weights(
    parent: dict[str, torch.Tensor] | nn.Module, child: nn.Module
) -> TransferReport:
    """Copy every parent tensor whose name and shape match into ``child``, in place.

    Module names are structural (the same edge has the same name in every
    architecture), so related architectures share most names. Entries with a new
    name or another shape keep the child's own initialisation and are reported.
    """
    state = parent.state_dict() if isinstance(parent, nn.Module) else parent
    report = TransferReport()
    with torch.no_grad():
        for name, tensor in child.state_dict().items():
            source = state.get(name)
            if source is None:
                report.new.append(name)
            elif source.shape != tensor.shape:
                report.shape_mismatch.append(name)
            else:
                tensor.copy_(source.to(tensor.device, tensor.dtype))
                report.copied.append(name)
    return report
