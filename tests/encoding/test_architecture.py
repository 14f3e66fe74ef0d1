"""The Architecture value: validation, canonical form and hash, JSON, str."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from optuna_nas import Architecture, DartsSpace, NB201Space
from tests.strategies import (
    ALL_SPACES,
    DARTS_SPACES,
    NB201_SPACES,
    architectures,
    equivalent_darts,
    isomorphism_key,
    space_id,
    swap_branches,
)

NB201 = NB201Space()


def nb201(text: str, **macro: int) -> Architecture:
    arch = NB201.from_nb201_string(text)
    return arch.replace(**macro) if macro else arch


def darts_cell(*nodes: tuple[tuple[str, int], tuple[str, int]]) -> tuple:
    return tuple(nodes)


DARTS_NORMAL = darts_cell(
    (("sep_conv_3x3", 0), ("skip_connect", 1)),
    (("sep_conv_5x5", 1), ("dil_conv_3x3", 2)),
)
DARTS_REDUCE = darts_cell(
    (("max_pool_3x3", 0), ("avg_pool_3x3", 1)),
    (("skip_connect", 2), ("max_pool_3x3", 0)),
)


def darts(normal=DARTS_NORMAL, reduce=DARTS_REDUCE, **macro: int) -> Architecture:
    return Architecture("darts", normal, reduce, **macro)


# ---------------------------------------------------------------------- the value
def test_fields_are_immutable_tuples_and_kept_as_given() -> None:
    arch = Architecture(
        "darts",
        [[["sep_conv_3x3", 1], ["skip_connect", 0]]],
        [[["max_pool_3x3", 0], ["none", 1]]],
        channels=8,
        cells=2,
    )
    assert arch.normal == ((("sep_conv_3x3", 1), ("skip_connect", 0)),)
    assert isinstance(arch.normal[0][0], tuple)
    # the encoding is kept exactly as given (edge order included)
    assert arch.to_dict()["normal"] == [[["sep_conv_3x3", 1], ["skip_connect", 0]]]
    with pytest.raises(dataclasses.FrozenInstanceError):
        arch.channels = 4  # type: ignore[misc]


def test_replace_validates_and_changes_only_the_given_fields() -> None:
    arch = darts()
    wider = arch.replace(channels=32)
    assert wider.channels == 32 and wider.normal == arch.normal and arch.channels == 16
    assert wider != arch
    with pytest.raises(ValueError, match="channels"):
        arch.replace(channels=-1)


def test_str_is_readable() -> None:
    text = "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
    assert str(nb201(text)) == f"nb201[C=16,N=5] {text}"
    s = str(darts(channels=8, cells=2))
    assert s.startswith("darts[C=8,N=2] normal: (sep_conv_3x3~0,skip_connect~1)")
    assert "reduce: (max_pool_3x3~0,avg_pool_3x3~1) (skip_connect~2,max_pool_3x3~0)" in s


# ---------------------------------------------------------------------- JSON
@pytest.mark.parametrize("space", ALL_SPACES, ids=space_id)
@given(data=st.data())
def test_json_round_trip(space, data) -> None:
    arch = data.draw(architectures(space))
    text = arch.to_json()
    back = Architecture.from_json(text)
    assert back.to_dict() == arch.to_dict()
    assert back == arch
    assert back.to_json() == text
    assert Architecture.from_json(text.encode()).to_dict() == arch.to_dict()
    assert Architecture.from_dict(json.loads(text)).to_dict() == arch.to_dict()


def test_to_json_is_compact_and_key_sorted() -> None:
    text = darts().to_json()
    assert " " not in text
    assert list(json.loads(text)) == sorted(["space", "normal", "reduce", "channels", "cells"])


def test_from_dict_defaults_macro_fields() -> None:
    arch = Architecture.from_dict({"space": "nb201", "normal": nb201_normal()})
    assert (arch.channels, arch.cells, arch.reduce) == (16, 5, None)


def nb201_normal(ops: str = "none none none none none none") -> list:
    o = ops.split()
    return [[[o[0], 0]], [[o[1], 0], [o[2], 1]], [[o[3], 0], [o[4], 1], [o[5], 2]]]


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"space": "nb301", "normal": nb201_normal()}, "unknown space 'nb301'"),
        (
            {"space": "nb201", "normal": nb201_normal("conv none none none none none")},
            "unknown op 'conv'",
        ),
        (
            {"space": "darts", "normal": [[["nor_conv_3x3", 0], ["none", 1]]], "reduce": None},
            "unknown op 'nor_conv_3x3'",
        ),
        ({"space": "nb201", "normal": nb201_normal()[:2]}, "exactly 3 intermediate nodes"),
        ({"space": "nb201", "normal": []}, "non-empty list of nodes"),
        ({"space": "nb201", "normal": "none"}, "non-empty list of nodes"),
        (
            {"space": "nb201", "normal": [[["none", 0]], [["none", 0], ["none", 0]], []]},
            "needs exactly one edge from each of nodes [0, 1]",
        ),
        (
            {"space": "nb201", "normal": [[["none", 0]], [["none", 0], ["none", 2]], []]},
            "input node 2 is out of range; must be in [0, 2)",
        ),
        (
            {"space": "nb201", "normal": [[["none", -1]], [], []]},
            "input node -1 is out of range",
        ),
        (
            {"space": "nb201", "normal": [[["none", True]], [], []]},
            "input must be an int node index",
        ),
        (
            {"space": "nb201", "normal": [[["none", "0"]], [], []]},
            "input must be an int node index",
        ),
        ({"space": "nb201", "normal": [[["none"]], [], []]}, "must be an (op, input) pair"),
        ({"space": "nb201", "normal": [["none~0"], [], []]}, "must be an (op, input) pair"),
        ({"space": "nb201", "normal": ["none", [], []]}, "must be a list of (op, input) edges"),
        (
            {"space": "darts", "normal": [[["none", 0], ["skip_connect", 0]]], "reduce": None},
            "two distinct earlier nodes",
        ),
        (
            {
                "space": "darts",
                "normal": [[["none", 0], ["skip_connect", 1], ["none", 1]]],
                "reduce": None,
            },
            "exactly two edges",
        ),
        (
            {
                "space": "darts",
                "normal": [[["none", 0], ["skip_connect", 2]]],
                "reduce": [[["none", 0], ["none", 1]]],
            },
            "input node 2 is out of range; must be in [0, 2)",
        ),
        ({"space": "darts", "normal": DARTS_NORMAL}, "needs a reduction cell"),
        (
            {"space": "darts", "normal": DARTS_NORMAL, "reduce": DARTS_REDUCE[:1]},
            "has 1 nodes but the normal cell has 2",
        ),
        (
            {"space": "nb201", "normal": nb201_normal(), "reduce": nb201_normal()},
            "has no reduction cell",
        ),
        ({"space": "nb201", "normal": nb201_normal(), "channels": 0}, "Architecture.channels"),
        ({"space": "nb201", "normal": nb201_normal(), "channels": True}, "Architecture.channels"),
        ({"space": "nb201", "normal": nb201_normal(), "channels": 8.0}, "Architecture.channels"),
        ({"space": "nb201", "normal": nb201_normal(), "cells": -2}, "Architecture.cells"),
        ({"space": "nb201", "normal": nb201_normal(), "cells": False}, "Architecture.cells"),
    ],
)
def test_invalid_architecture_names_the_problem(kwargs, message) -> None:
    with pytest.raises(ValueError) as info:
        Architecture(**kwargs)
    assert message in str(info.value)


def test_error_names_the_cell_and_node() -> None:
    with pytest.raises(ValueError) as info:
        Architecture(
            "darts",
            DARTS_NORMAL,
            darts_cell((("none", 0), ("none", 1)), (("skip_connect", 2), ("foo", 0))),
        )
    assert "Architecture.reduce[1] (node 3) edge 1" in str(info.value)
    assert "unknown op 'foo'" in str(info.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "malformed"),
        (b"\xff\xfe", "malformed"),
        ("[1, 2]", "must be an object"),
        ('{"space": "nb201"}', "missing keys ['normal']"),
        (
            json.dumps({"space": "nb201", "normal": nb201_normal(), "width": 3}),
            "unknown keys ['width']",
        ),
        (
            json.dumps({"space": "nb201", "normal": nb201_normal("none x none none none none")}),
            "unknown op 'x'",
        ),
    ],
)
def test_bad_json_raises_value_error(text, message) -> None:
    with pytest.raises(ValueError) as info:
        Architecture.from_json(text)
    assert message in str(info.value)


# ---------------------------------------------------------------------- canonical form
DEAD_NODE_1 = "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|"


@pytest.mark.parametrize("other_op", ["skip_connect", "nor_conv_1x1", "avg_pool_3x3", "none"])
def test_nb201_op_into_a_node_that_cannot_reach_the_output_is_dead(other_op) -> None:
    a = nb201(DEAD_NODE_1)
    b = nb201(DEAD_NODE_1.replace("nor_conv_3x3~0", f"{other_op}~0"))
    assert a == b and hash(a) == hash(b) and a.fingerprint == b.fingerprint
    assert a.to_dict() != b.to_dict()
    assert a.without_dead_ops().to_dict() == b.without_dead_ops().to_dict()
    assert a.without_dead_ops().normal[0] == (("none", 0),)


def test_nb201_ops_on_nodes_unreachable_from_the_input_are_dead() -> None:
    # node 1 gets nothing from the input, so the ops 1 -> 2 and 1 -> 3 see only zeros
    a = nb201(
        "|none~0|+|nor_conv_1x1~0|nor_conv_3x3~1|+|skip_connect~0|avg_pool_3x3~1|nor_conv_3x3~2|"
    )
    b = nb201("|none~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    c = nb201("|none~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|none~1|nor_conv_3x3~2|")
    assert a == b == c
    assert a.without_dead_ops().to_dict() == b.without_dead_ops().to_dict() == b.to_dict()


def test_nb201_nodes_1_and_2_relabel_when_the_edge_between_them_is_none() -> None:
    a = nb201(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"
    )
    b = nb201(
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|"
    )
    assert a == b and hash(a) == hash(b)
    assert a.canonical().to_dict() == b.canonical().to_dict()
    # with a real edge 1 -> 2 the two encodings are different networks
    c = nb201(
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"
    )
    d = nb201(
        "|nor_conv_1x1~0|+|nor_conv_3x3~0|skip_connect~1|+|skip_connect~0|skip_connect~1|avg_pool_3x3~2|"
    )
    assert c != d


def test_nb201_all_dead_cells_are_equal() -> None:
    a = nb201("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|")
    b = nb201("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    assert a == b
    assert all(op == "none" for node in a.without_dead_ops().normal for op, _ in node)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        # a different op on a live edge
        (
            "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
            "|nor_conv_1x1~0|+|none~0|none~1|+|skip_connect~0|nor_conv_3x3~1|none~2|",
        ),
        (
            "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
            "|none~0|+|none~0|none~1|+|avg_pool_3x3~0|none~1|none~2|",
        ),
        # a live edge more
        (
            "|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
            "|skip_connect~0|+|none~0|none~1|+|skip_connect~0|skip_connect~1|none~2|",
        ),
        # the same ops on other edges (a chain vs parallel edges)
        (
            "|nor_conv_3x3~0|+|none~0|nor_conv_1x1~1|+|none~0|none~1|skip_connect~2|",
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|none~1|skip_connect~2|",
        ),
    ],
)
def test_nb201_different_networks_differ(a, b) -> None:
    assert nb201(a) != nb201(b)
    assert nb201(a).fingerprint != nb201(b).fingerprint


def test_macro_fields_are_part_of_the_identity() -> None:
    a = nb201(DEAD_NODE_1)
    assert a != a.replace(channels=8)
    assert a != a.replace(cells=1)
    assert darts() != darts(channels=8)
    assert darts() != darts(cells=2)
    assert a != Architecture.from_dict({**a.to_dict(), "channels": 17})


def test_darts_swapped_branches_are_equal() -> None:
    a = darts()
    for cell in ("normal", "reduce"):
        for node in range(2):
            b = swap_branches(a, cell, node)
            assert b.to_dict() != a.to_dict()
            assert a == b and hash(a) == hash(b) and a.fingerprint == b.fingerprint


def test_darts_input_of_a_none_branch_is_irrelevant() -> None:
    a = darts(darts_cell((("sep_conv_3x3", 0), ("none", 1)), (("none", 0), ("dil_conv_3x3", 2))))
    b = darts(darts_cell((("sep_conv_3x3", 0), ("none", 1)), (("none", 1), ("dil_conv_3x3", 2))))
    c = darts(darts_cell((("none", 1), ("sep_conv_3x3", 0)), (("dil_conv_3x3", 2), ("none", 0))))
    assert a == b == c
    # two none branches: any pair of inputs
    d = darts(darts_cell((("sep_conv_3x3", 0), ("none", 1)), (("none", 2), ("none", 0))))
    e = darts(darts_cell((("sep_conv_3x3", 0), ("none", 1)), (("none", 1), ("none", 2))))
    assert d == e


def test_darts_input_of_a_real_branch_matters() -> None:
    a = darts(darts_cell((("sep_conv_3x3", 0), ("none", 1)), (("none", 0), ("dil_conv_3x3", 2))))
    b = darts(darts_cell((("sep_conv_3x3", 1), ("none", 0)), (("none", 0), ("dil_conv_3x3", 2))))
    c = darts(darts_cell((("sep_conv_3x3", 0), ("none", 1)), (("none", 2), ("dil_conv_3x3", 1))))
    assert a != b and a != c and b != c
    # inputs of the normal and the reduction cell are not interchangeable
    assert darts() != darts(normal=DARTS_REDUCE, reduce=DARTS_NORMAL)


def test_darts_isomorphic_nodes_are_equal() -> None:
    # nodes 2 and 3 both read only the cell inputs: swapping their labels is the same cell
    n1 = darts_cell(
        (("sep_conv_3x3", 0), ("skip_connect", 1)),
        (("max_pool_3x3", 0), ("dil_conv_5x5", 1)),
        (("sep_conv_5x5", 2), ("avg_pool_3x3", 3)),
    )
    n2 = darts_cell(
        (("max_pool_3x3", 0), ("dil_conv_5x5", 1)),
        (("sep_conv_3x3", 0), ("skip_connect", 1)),
        (("sep_conv_5x5", 3), ("avg_pool_3x3", 2)),
    )
    red = darts_cell(*(((("none", 0), ("skip_connect", 1)),) * 3))
    assert Architecture("darts", n1, red) == Architecture("darts", n2, red)
    # but the op pattern from node 4 onto nodes 2/3 must follow the relabelling
    n3 = darts_cell(*n2[:2], (("sep_conv_5x5", 2), ("avg_pool_3x3", 3)))
    assert Architecture("darts", n1, red) != Architecture("darts", n3, red)


@pytest.mark.parametrize("space", ALL_SPACES, ids=space_id)
@given(data=st.data())
def test_canonical_is_an_equal_idempotent_member_of_the_space(space, data) -> None:
    arch = data.draw(architectures(space))
    canon = arch.canonical()
    assert canon == arch and hash(canon) == hash(arch)
    assert canon.canonical().to_dict() == canon.to_dict()
    assert canon in space
    assert space.from_params(space.to_params(canon)) == arch


@pytest.mark.parametrize("space", DARTS_SPACES, ids=space_id)
@given(data=st.data())
def test_darts_equal_iff_isomorphic(space, data) -> None:
    a = data.draw(architectures(space))
    kind = data.draw(st.sampled_from(["equivalent", "random", "edit"]))
    if kind == "equivalent":
        b = data.draw(equivalent_darts(a))
        assert isomorphism_key(a) == isomorphism_key(b)  # the oracle agrees it is the same net
    elif kind == "random":
        b = data.draw(architectures(space))
    else:  # change one op or one input somewhere
        cell_name = data.draw(st.sampled_from(["normal", "reduce"]))
        cell = [list(node) for node in getattr(a, cell_name)]
        k = data.draw(st.integers(0, len(cell) - 1))
        j = data.draw(st.integers(0, 1))
        op, src = cell[k][j]
        other = cell[k][1 - j][1]
        cell[k][j] = (
            data.draw(st.sampled_from(space.ops)),
            data.draw(st.sampled_from([i for i in range(k + 2) if i != other])),
        )
        b = a.replace(**{cell_name: cell})
    same = isomorphism_key(a) == isomorphism_key(b)
    assert (a == b) == same
    assert (a.fingerprint == b.fingerprint) == same
    if same:
        assert hash(a) == hash(b)
        assert len({a, b}) == 1


@pytest.mark.parametrize("space", NB201_SPACES, ids=space_id)
@given(data=st.data())
def test_nb201_equal_iff_isomorphic(space, data) -> None:
    a = data.draw(architectures(space))
    b = data.draw(architectures(space))
    same = isomorphism_key(a) == isomorphism_key(b)
    assert (a == b) == same
    assert (a.fingerprint == b.fingerprint) == same


def test_equality_with_other_types() -> None:
    arch = darts()
    assert arch != arch.to_dict()
    assert arch != arch.to_json()
    assert arch.__eq__(1) is NotImplemented


def test_fingerprint_is_stable_across_processes() -> None:
    archs = [
        nb201(DEAD_NODE_1),
        nb201(
            "|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|skip_connect~0|avg_pool_3x3~1|skip_connect~2|"
        ),
        darts(),
        darts(channels=8, cells=2),
        swap_branches(darts(), "normal", 1),
    ]
    script = (
        "import sys, json\n"
        "from optuna_nas import Architecture\n"
        "for line in sys.stdin:\n"
        "    a = Architecture.from_json(line)\n"
        "    print(a.fingerprint, hash(a) == hash(a.canonical()))\n"
    )
    for seed in ("12345",):  # a hash seed unlike this process's
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", script],
            input="\n".join(a.to_json() for a in archs),
            capture_output=True,
            text=True,
            env=env,
            check=True,
            timeout=120,
        ).stdout.split("\n")
        assert [line.split()[0] for line in out if line] == [a.fingerprint for a in archs]
        assert all(line.endswith("True") for line in out if line)
    assert len({a.fingerprint for a in archs}) == 4  # the swapped DARTS encoding is the same
    assert all(len(a.fingerprint) == 20 and int(a.fingerprint, 16) >= 0 for a in archs)


# ---------------------------------------------------------------------- dead ops
def test_without_dead_ops_keeps_labels_and_order() -> None:
    a = nb201("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|")
    # node 1 is dead: its only way out (1->2, 1->3) is none
    w = a.without_dead_ops()
    assert NB201.nb201_string(w) == (
        "|none~0|+|nor_conv_3x3~0|none~1|+|skip_connect~0|none~1|avg_pool_3x3~2|"
    )
    assert w == a
    # DARTS: every node is an output, nothing is dead
    assert darts().without_dead_ops().to_dict() == darts().to_dict()


def test_darts_space_rejects_darts_arch_with_other_node_count() -> None:
    with pytest.raises(ValueError, match="nodes per cell, expected 3"):
        DartsSpace(channels=16, cells=5, nodes=3).validate(darts())
