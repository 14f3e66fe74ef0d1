"""Parsing arbitrary input: the encoding's parsers raise only ``ValueError``, with a message.

Everything that reads an architecture from outside (JSON in storage, a NAS-Bench-201
string, a dict, Optuna params, NAO tokens) and ``space.validate`` must turn bad input
into a ``ValueError`` that says what is wrong: the CLI prints such errors as one line.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optuna_nas import Architecture, DartsSpace, NB201Space
from optuna_nas.encoding import DARTS_OPS, NB201_OPS

SPACES = [NB201Space(channels=[4, 8], cells=[1, 2]), DartsSpace(channels=4, cells=1, nodes=2)]
PROPERTY = settings(max_examples=200, deadline=None)

# Values near the real ones (ops, small ints, the keys) are mixed with junk, so the
# examples reach deep into the parsers instead of failing at the first check.
_atoms = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-3, max_value=6),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([*NB201_OPS, *DARTS_OPS, "nb201", "darts", "", "none~0"]),
    st.text(max_size=8),
)
_values = st.recursive(
    _atoms,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=6), inner, max_size=4),
    ),
    max_leaves=30,
)
_keys = st.sampled_from(["space", "normal", "reduce", "channels", "cells"])
_arch_dicts = st.one_of(
    st.dictionaries(_keys, _values, max_size=5),
    st.dictionaries(st.one_of(_keys, st.text(max_size=5), st.integers()), _values, max_size=5),
    st.fixed_dictionaries(
        {"space": st.sampled_from(["nb201", "darts"]), "normal": _values},
        optional={"reduce": _values, "channels": _values, "cells": _values},
    ),
)


def _json_texts():
    """JSON that parses (objects near the real form, or anything), and text that does not."""
    arch = _arch_dicts.map(lambda d: json.dumps({str(k): v for k, v in d.items()}, default=str))
    return st.one_of(arch, _values.map(lambda v: json.dumps(v, default=str)), st.text())


def _raises_value_error_with_message(call, *args):
    """``call(*args)`` either returns or raises a ``ValueError`` with a non-empty message."""
    try:
        call(*args)
    except ValueError as exc:
        assert str(exc).strip(), f"{call.__qualname__}{args!r}: ValueError without a message"
        return False
    return True


@PROPERTY
@given(text=st.one_of(_json_texts(), st.binary(max_size=40), _values))
def test_from_json_raises_only_value_error(text):
    if _raises_value_error_with_message(Architecture.from_json, text):
        assert isinstance(text, str | bytes)  # only real JSON text parses


@PROPERTY
@given(data=st.one_of(_arch_dicts, _values))
def test_from_dict_raises_only_value_error(data):
    _raises_value_error_with_message(Architecture.from_dict, data)


@PROPERTY
@given(fields=st.fixed_dictionaries({"space": _values, "normal": _values},
                                    optional={"reduce": _values, "channels": _values,
                                              "cells": _values}))  # fmt: skip
def test_the_constructor_raises_only_value_error(fields):
    _raises_value_error_with_message(lambda: Architecture(**fields))


_edge = st.builds(lambda op, src: f"{op}~{src}",
                  st.one_of(st.sampled_from(NB201_OPS), st.text(max_size=5)),
                  st.one_of(st.integers(-1, 3), st.text(max_size=2)))  # fmt: skip
_nb201_strings = st.one_of(
    st.text(),
    st.lists(st.lists(_edge, max_size=4).map(lambda e: "|" + "|".join(e) + "|"), max_size=4).map(
        "+".join
    ),
)


@PROPERTY
@given(text=st.one_of(_nb201_strings, _values))
def test_from_nb201_string_raises_only_value_error(text):
    _raises_value_error_with_message(SPACES[0].from_nb201_string, text)


@pytest.mark.parametrize("space", SPACES, ids=repr)
@PROPERTY
@given(value=st.one_of(_values, _arch_dicts, st.builds(object)))
def test_validate_raises_only_value_error_on_other_values(space, value):
    assert not _raises_value_error_with_message(space.validate, value)


@pytest.mark.parametrize("space", SPACES, ids=repr)
@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), other=st.sampled_from(SPACES),
       channels=st.integers(1, 64), cells=st.integers(1, 4))  # fmt: skip
def test_validate_accepts_its_own_and_rejects_others_with_value_error(
    space, seed, other, channels, cells
):
    arch = other.sample(seed).replace(channels=channels, cells=cells)
    belongs = (arch.space == space.kind and channels in space.channels
               and cells in space.cells)  # fmt: skip
    assert _raises_value_error_with_message(space.validate, arch) == belongs  # one space a kind
    assert (arch in space) == belongs


@pytest.mark.parametrize("space", SPACES, ids=repr)
@PROPERTY
@given(params=st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(["channels", "cells"])),
                              _values, max_size=8))  # fmt: skip
def test_from_params_raises_only_value_error(space, params):
    _raises_value_error_with_message(space.from_params, params)


@pytest.mark.parametrize("space", SPACES, ids=repr)
@PROPERTY
@given(data=st.data())
def test_from_params_with_one_value_changed_raises_value_error(space, data):
    params = space.to_params(space.sample(data.draw(st.integers(0, 2**32 - 1))))
    name = data.draw(st.sampled_from(sorted(params)))
    params[name] = data.draw(_values)
    _raises_value_error_with_message(space.from_params, params)


@pytest.mark.parametrize("space", SPACES, ids=repr)
@PROPERTY
@given(tokens=st.one_of(st.lists(st.integers(-2, 40), max_size=30),
                        st.lists(st.integers(), max_size=30)))  # fmt: skip
def test_from_tokens_raises_only_value_error_on_any_int_sequence(space, tokens):
    _raises_value_error_with_message(space.from_tokens, tokens)


_NOT_TOKENS = st.one_of(
    st.none(),
    st.floats(),
    st.text(max_size=30),
    st.lists(st.one_of(st.none(), st.floats(), st.text(max_size=3), st.booleans()), max_size=30),
)


@pytest.mark.parametrize("space", SPACES, ids=repr)
@PROPERTY
@given(tokens=_NOT_TOKENS)
def test_from_tokens_raises_only_value_error_on_anything(space, tokens):
    _raises_value_error_with_message(space.from_tokens, tokens)
