"""The op factory tables agree with the vocabularies and with the encoding's op table."""

from __future__ import annotations

import pytest
from torch import nn

from optuna_nas.encoding import DARTS_OPS, NB201_OPS, OP_TABLE, DartsSpace, NB201Space
from optuna_nas.networks import DARTS_FACTORIES, NB201_FACTORIES, build_network, network_class

OPS = [("nb201", name) for name in NB201_FACTORIES] + [("darts", name) for name in DARTS_FACTORIES]


def module(kind: str, name: str) -> nn.Module:
    return NB201_FACTORIES[name](4) if kind == "nb201" else DARTS_FACTORIES[name](4, 1)


def test_every_op_but_nb201_none_has_one_factory() -> None:
    assert set(NB201_FACTORIES) == set(NB201_OPS) - {"none"}
    assert set(DARTS_FACTORIES) == set(DARTS_OPS)


@pytest.mark.parametrize(("kind", "name"), OPS)
def test_a_factory_builds_what_the_op_table_says(kind: str, name: str) -> None:
    spec, op = OP_TABLE[name], module(kind, name)
    assert any(True for _ in op.parameters()) == spec.parametric
    assert isinstance(list(op.modules())[-1], nn.BatchNorm2d) == spec.zero_init
    kernels = {m.kernel_size for m in op.modules() if hasattr(m, "kernel_size")}
    if spec.kernel is None:
        assert not kernels
    else:
        assert kernels & {spec.kernel, (spec.kernel, spec.kernel)}


@pytest.mark.parametrize(
    "space",
    [NB201Space(channels=4, cells=2), DartsSpace(channels=4, cells=2, nodes=2)],
    ids=["nb201", "darts"],
)
def test_the_channel_layout_covers_every_weighted_module(space) -> None:
    arch = space.sample(3)
    layout = network_class(arch.space).channel_layout(arch)
    for name, m in build_network(arch).named_modules():
        if isinstance(m, (nn.Conv2d, nn.BatchNorm2d, nn.Linear)):
            assert any(name == p or name.startswith(f"{p}.") for p in layout), name
