"""Copying weights by name, and the report of what weight inheritance did."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import torch
from torch import nn


@dataclass
class TransferReport:
    """What happened to each entry of the child's state dict.

    Attributes
    ----------
    copied:
        Copied unchanged from the parent.
    mapped:
        Copied through a channel or kernel map (widened, pruned, other kernel size).
    zeroed:
        Set to zero so that a new op outputs zero (function-preserving).
    new:
        No counterpart in the parent: the child's own initialisation.
    shape_mismatch:
        Same name, other shape, left alone (:func:`transfer_weights` only).
    """

    copied: list[str] = field(default_factory=list)
    shape_mismatch: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)
    mapped: list[str] = field(default_factory=list)
    zeroed: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        """The number of entries in each list."""
        return {f.name: len(getattr(self, f.name)) for f in fields(self)}


def transfer_weights(
    parent: dict[str, torch.Tensor] | nn.Module, child: nn.Module
) -> TransferReport:
    """Copy every parent tensor whose name and shape match into ``child``, in place.

    Module names are structural (the same edge has the same name in every
    architecture), so related architectures share most names. Entries with a new
    name or another shape keep the child's own initialisation and are reported.
    :func:`~optuna_nas.networks.inherit_weights` also maps channels and kernels and
    preserves the function.
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
