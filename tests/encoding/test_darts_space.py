"""DartsSpace: params, tokens, canonical equality and errors."""

from __future__ import annotations

import collections
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optuna_nas import Architecture, DartsSpace, NB201Space
from optuna_nas.encoding import DARTS_OPS
from tests.strategies import (
    DARTS_SPACES,
    architectures,
    isomorphism_key,
    params_of,
    space_id,
    swap_branches,
)


def test_distributions() -> None:
    space = DartsSpace(channels=[8, 16], cells=[1, 2], nodes=3)
    dists = space.distributions()
    expected = [
        f"{cell}/node{k}/{what}"
        for cell in ("normal", "reduce")
        for k in (2, 3, 4)
        for what in ("inputs", "op_a", "op_b")
    ]
    assert list(dists) == [*expected, "channels", "cells"]
    assert tuple(dists["normal/node2/inputs"].choices) == ("0,1",)
    assert tuple(dists["reduce/node3/inputs"].choices) == ("0,1", "0,2", "1,2")
    assert tuple(dists["normal/node4/inputs"].choices) == ("0,1", "0,2", "0,3", "1,2", "1,3", "2,3")
    assert tuple(dists["normal/node4/op_b"].choices) == DARTS_OPS
    assert "none" in DARTS_OPS and len(DARTS_OPS) == 8
    assert "channels" not in DartsSpace(nodes=2).distributions()


def test_defaults_are_the_darts_cifar_network() -> None:
    space = DartsSpace()
    assert (space.channels, space.cells, space.nodes) == ((36,), (6,), 4)
    assert 3 * space.cells[0] + 2 == 20


@pytest.mark.parametrize("space", DARTS_SPACES, ids=space_id)
@given(data=st.data())
def test_params_round_trip(space, data) -> None:
    params = data.draw(params_of(space))
    arch = space.from_params(params)
    assert space.to_params(arch) == params
    assert arch in space


@pytest.mark.parametrize("space", DARTS_SPACES, ids=space_id)
@given(data=st.data())
def test_arch_params_arch_round_trip(space, data) -> None:
    arch = data.draw(architectures(space))
    back = space.from_params(space.to_params(arch))
    assert back == arch
    # params list each node's branches by input: the same edges, maybe swapped
    for name, cell in arch.cells_by_name():
        back_cell = getattr(back, name)
        for node, back_node in zip(cell, back_cell, strict=True):
            assert sorted(node) == sorted(back_node)
            assert back_node[0][1] < back_node[1][1]


def test_op_a_applies_to_the_smaller_input() -> None:
    space = DartsSpace(channels=8, cells=1, nodes=2)
    cell = ((("sep_conv_3x3", 1), ("skip_connect", 0)), (("none", 2), ("dil_conv_5x5", 0)))
    arch = Architecture("darts", cell, cell, channels=8, cells=1)
    params = space.to_params(arch)
    assert params["normal/node2/inputs"] == "0,1"
    assert params["normal/node2/op_a"] == "skip_connect"
    assert params["normal/node2/op_b"] == "sep_conv_3x3"
    assert params["reduce/node3/inputs"] == "0,2"
    assert params["reduce/node3/op_a"] == "dil_conv_5x5"
    assert params["reduce/node3/op_b"] == "none"


# ---------------------------------------------------------------------- tokens
def test_vocabulary() -> None:
    space = DartsSpace(channels=[8, 16], cells=1, nodes=3)
    inputs = ("input=0", "input=1", "input=2", "input=3")
    assert space.vocabulary == (*inputs, *DARTS_OPS, "channels=8", "channels=16")
    assert space.sequence_length == 2 * 3 * 4 + 1
    # node 2: inputs 0/1; then an op; the second input must differ from the first
    assert space.allowed_tokens([]) == [0, 1]
    assert space.allowed_tokens([1]) == list(range(4, 12))
    assert space.allowed_tokens([1, 4]) == [0]
    assert space.allowed_tokens([0, 4, 1, 5]) == [0, 1, 2]  # node 3
    assert space.allowed_tokens([0, 4, 1, 5, 2, 6]) == [0, 1]


@pytest.mark.parametrize("space", DARTS_SPACES, ids=space_id)
@given(data=st.data())
def test_swapped_branches_in_tokens_give_an_equal_arch(space, data) -> None:
    arch = data.draw(architectures(space))
    tokens = space.to_tokens(arch)
    node = data.draw(st.integers(0, 2 * space.nodes - 1))
    swapped = list(tokens)
    swapped[4 * node : 4 * node + 4] = (
        tokens[4 * node + 2 : 4 * node + 4] + tokens[4 * node : 4 * node + 2]
    )
    other = space.from_tokens(swapped)
    assert other == arch and hash(other) == hash(arch)
    cell, k = ("normal", node) if node < space.nodes else ("reduce", node - space.nodes)
    assert other.to_dict() == swap_branches(arch, cell, k).to_dict()


@pytest.mark.parametrize("space", DARTS_SPACES, ids=space_id)
@given(data=st.data())
def test_a_token_outside_allowed_tokens_is_rejected(space, data) -> None:
    tokens = space.to_tokens(data.draw(architectures(space)))
    pos = data.draw(st.integers(0, len(tokens) - 1))
    allowed = space.allowed_tokens(tokens[:pos])
    bad = [t for t in range(len(space.vocabulary)) if t not in allowed]
    if not bad:  # e.g. a macro slot listing all of its values
        return
    tokens[pos] = data.draw(st.sampled_from(bad))
    with pytest.raises(ValueError, match=f"at position {pos} is not allowed"):
        space.from_tokens(tokens)


def test_bad_token_sequences() -> None:
    space = DartsSpace(channels=8, cells=1, nodes=2)
    good = space.to_tokens(space.sample(0))
    with pytest.raises(ValueError, match="length 15, expected 16"):
        space.from_tokens(good[:-1])
    duplicate = list(good)
    duplicate[2] = duplicate[0]  # both branches of node 2 from the same input
    with pytest.raises(ValueError, match="at position 2 is not allowed"):
        space.from_tokens(duplicate)
    op_as_input = list(good)
    op_as_input[0] = good[1]
    with pytest.raises(ValueError) as info:
        space.from_tokens(op_as_input)
    assert "at position 0 is not allowed there; allowed: ['input=0', 'input=1']" in str(info.value)
    future = list(good)
    future[0] = 2  # node 2 reading input=2 (itself)
    with pytest.raises(ValueError, match="'input=2' at position 0 is not allowed"):
        space.from_tokens(future)


# ---------------------------------------------------------------------- canonical form
@pytest.mark.parametrize(
    ("nodes", "ops"),
    [(2, ("none", "skip_connect", "sep_conv_3x3")), (3, ("none", "sep_conv_3x3"))],
)
def test_canonical_classes_of_small_cells_match_brute_force_isomorphism(nodes, ops) -> None:
    """All normal cells over a few ops: the partition by ``==`` equals isomorphism."""
    space = DartsSpace(channels=8, cells=1, nodes=nodes)
    reduce = space.sample(0).reduce
    node_choices = [
        [((a, i), (b, j)) for i, j in itertools.combinations(range(k), 2) for a in ops for b in ops]
        for k in range(2, 2 + nodes)
    ]
    by_fingerprint = collections.defaultdict(set)
    by_key = collections.defaultdict(set)
    for index, cell in enumerate(itertools.product(*node_choices)):
        arch = Architecture("darts", cell, reduce, channels=8, cells=1)
        by_fingerprint[arch.fingerprint].add(index)
        by_key[isomorphism_key(arch)].add(index)
    assert {frozenset(g) for g in by_fingerprint.values()} == {
        frozenset(g) for g in by_key.values()
    }
    assert len(by_fingerprint) < index + 1  # there are equal encodings to merge


# ---------------------------------------------------------------------- errors
def test_bad_params() -> None:
    space = DartsSpace(channels=8, cells=1, nodes=2)
    params = space.to_params(space.sample(0))
    with pytest.raises(ValueError, match=r"missing params \['reduce/node3/op_a'\]"):
        space.from_params({k: v for k, v in params.items() if k != "reduce/node3/op_a"})
    with pytest.raises(ValueError, match="'normal/node3/inputs' = '1,1' is not one of"):
        space.from_params({**params, "normal/node3/inputs": "1,1"})
    with pytest.raises(ValueError, match="'normal/node2/inputs' = '0,2' is not one of"):
        space.from_params({**params, "normal/node2/inputs": "0,2"})
    with pytest.raises(ValueError, match="'normal/node2/op_a' = 'nor_conv_3x3' is not one of"):
        space.from_params({**params, "normal/node2/op_a": "nor_conv_3x3"})
    with pytest.raises(ValueError) as info:
        space.from_params(NB201Space().to_params(NB201Space().sample(0)))
    assert "different space" in str(info.value)


def test_validate() -> None:
    space = DartsSpace(channels=[8, 16], cells=[1, 2], nodes=2)
    arch = space.sample(1)
    assert space.validate(arch) is arch
    with pytest.raises(ValueError, match="architecture has 2 nodes per cell, expected 3"):
        DartsSpace(channels=[8, 16], cells=[1, 2], nodes=3).validate(arch)
    with pytest.raises(ValueError, match="channels=4 is not one of"):
        space.validate(arch.replace(channels=4))
    with pytest.raises(ValueError, match="cells=6 is not one of"):
        space.validate(arch.replace(cells=6))
    nb201 = NB201Space(channels=8, cells=1).sample(0)
    with pytest.raises(ValueError, match="space 'nb201' does not belong to this 'darts' space"):
        space.validate(nb201)
    assert nb201 not in space
    for method in (space.to_params, space.to_tokens):
        with pytest.raises(ValueError, match="does not belong"):
            method(nb201)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"nodes": 0}, "nodes: expected a positive int"),
        ({"nodes": True}, "nodes: expected a positive int"),
        ({"nodes": 2.5}, "nodes: expected a positive int"),
        ({"channels": 0}, "channels: expected a positive int"),
        ({"channels": [16, False]}, "channels: expected a positive int"),
        ({"cells": [2, 2]}, "cells: duplicate values"),
    ],
)
def test_bad_space_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError) as info:
        DartsSpace(**kwargs)
    assert message in str(info.value)
