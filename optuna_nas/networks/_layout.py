"""Channel layouts: what each axis of each weight tensor of a network indexes.

Each network class states its own layout (``channel_layout(arch)``, beside its
``cost_plan``) as ``{module prefix: (input channels, output channels)}``, in
channel *segments*: ``(group, width, half)`` names a channel group, its width in
this network and, for the two convs of a ``FactorizedReduce``, which half of it.
Channels of one group are tied together by identities, sums and depthwise ops,
so weight inheritance maps each group once (``_channel_maps``).
:func:`tensor_axes` turns a layout into the axes of every state-dict entry.
"""

from __future__ import annotations

import numpy as np
from torch import nn

from optuna_nas.networks._operations import FactorizedReduce

Segment = tuple[str, int, int | None]
"""``(group, width of the group, half)``; half ``None`` is the whole group."""
KERNEL = "kernel"
Axis = list[Segment] | str | None
"""Channel segments, :data:`KERNEL`, or ``None`` for any other axis."""
ChannelLayout = dict[str, tuple[Axis, Axis]]
"""``{module prefix: (input channels, output channels)}``."""


def tensor_axes(model: nn.Module, layout: ChannelLayout) -> dict[str, list[Axis]]:
    """What each axis of each state-dict entry of ``model`` indexes."""
    modules = dict(model.named_modules())
    axes: dict[str, list[Axis]] = {}
    for name, module in modules.items():
        if not isinstance(module, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            continue
        parts = name.split(".")
        prefix = name  # the longest prefix with a layout
        while prefix and prefix not in layout:
            prefix = prefix.rpartition(".")[0]
        inputs, outputs = layout.get(prefix, (None, None))
        owner = modules[name.rpartition(".")[0]] if "." in name else model
        if isinstance(owner, FactorizedReduce) and parts[-1] in ("conv1", "conv2"):
            # The two convs write the two halves of the output channels.
            [(group, width, _)] = outputs
            outputs = [(group, width, 0 if parts[-1] == "conv1" else 1)]
        if isinstance(module, nn.Conv2d):
            if module.groups > 1:  # depthwise: one filter per input channel
                weight = [inputs, None, KERNEL, KERNEL]
            else:
                weight = [outputs, inputs, KERNEL, KERNEL]
            axes[f"{name}.weight"] = weight
        elif isinstance(module, nn.Linear):
            axes[f"{name}.weight"] = [None, inputs]
            axes[f"{name}.bias"] = [None]
        else:
            for entry in ("weight", "bias", "running_mean", "running_var"):
                axes[f"{name}.{entry}"] = [outputs]
            axes[f"{name}.num_batches_tracked"] = []
    return axes


def segment_channels(width: int, half: int | None) -> np.ndarray:
    """Group channels a segment holds, as indices into the whole group."""
    if half is None:
        return np.arange(width)
    return np.arange(width // 2) if half == 0 else np.arange(width // 2, width)
