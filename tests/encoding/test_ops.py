"""The op table: one row per op of every vocabulary, consistent with itself."""

from __future__ import annotations

import pytest

import optuna_nas.encoding._space as space_module
from optuna_nas.encoding import (
    CELL_RULES,
    OP_TABLE,
    DartsSpace,
    NB201Space,
    identity_init_edges,
)


def test_every_op_of_every_vocabulary_has_exactly_one_row() -> None:
    vocabulary = {op for rule in CELL_RULES.values() for op in rule.ops}
    assert set(OP_TABLE) == vocabulary


@pytest.mark.parametrize("name", sorted(OP_TABLE))
def test_a_row_refers_only_to_ops_of_the_table(name: str) -> None:
    spec = OP_TABLE[name]
    assert not spec.zero_init or spec.parametric  # silencing needs a BatchNorm with weights
    if spec.larger is not None:
        larger = OP_TABLE[spec.larger]
        assert larger.family == spec.family and larger.kernel > spec.kernel
    for op in spec.cheaper:  # a smaller kernel of the family, or another op
        assert op != name
        cheaper = OP_TABLE[op]
        assert cheaper.family != spec.family or cheaper.kernel < spec.kernel


def test_the_cell_kinds_add_the_same_zero_initialisable_ops_as_before() -> None:
    zero_init = {kind: [op for op in rule.ops if OP_TABLE[op].zero_init]
                 for kind, rule in CELL_RULES.items()}  # fmt: skip
    assert zero_init == {
        "nb201": ["nor_conv_1x1", "nor_conv_3x3"],
        "darts": ["sep_conv_3x3", "sep_conv_5x5", "dil_conv_3x3", "dil_conv_5x5"],
    }


def test_identity_init_edges_is_pure_genotype_logic() -> None:
    space = NB201Space(channels=4, cells=1)
    only_skip = space.from_nb201_string("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|")
    assert identity_init_edges(only_skip) == frozenset()
    no_skip = space.from_nb201_string(
        "|nor_conv_3x3~0|+|none~0|none~1|+|nor_conv_1x1~0|none~1|none~2|"
    )
    assert identity_init_edges(no_skip) is None
    assert identity_init_edges(DartsSpace(channels=4, cells=1, nodes=2).sample(0)) is None


def test_build_without_a_registered_builder_says_what_to_import(monkeypatch) -> None:
    space = NB201Space(channels=4, cells=1)
    monkeypatch.setattr(space_module, "_network_builder", None)
    with pytest.raises(RuntimeError, match="import optuna_nas.networks"):
        space.build(space.sample(0))


def test_build_validates_before_it_calls_the_registered_builder(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(space_module, "_network_builder", lambda *args: calls.append(args))
    space = NB201Space(channels=4, cells=1)
    arch = space.sample(0)
    space.build(arch, 1, 7)
    assert calls == [(arch, 1, 7)]
    with pytest.raises(ValueError, match="channels=8 is not one of"):
        space.build(arch.replace(channels=8))
    assert len(calls) == 1
