"""Token-sequence behaviour every space shares (NAO's constrained decoding relies on it)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import DARTS_SPACES, NB201_SPACES, architectures, space_id

ALL_SPACES = [*NB201_SPACES, *DARTS_SPACES]


@pytest.mark.parametrize("space", ALL_SPACES, ids=space_id)
@given(data=st.data())
def test_tokens_round_trip(space, data) -> None:
    arch = data.draw(architectures(space))
    tokens = space.to_tokens(arch)
    assert len(tokens) == space.sequence_length
    back = space.from_tokens(tokens)
    assert back.to_dict() == arch.to_dict()  # tokens keep the encoding's edge order
    assert space.to_tokens(back) == tokens
    for pos, token in enumerate(tokens):
        assert token in space.allowed_tokens(tokens[:pos])


@pytest.mark.parametrize("space", ALL_SPACES, ids=space_id)
@given(data=st.data())
def test_greedy_decoding_through_allowed_tokens_is_valid(space, data) -> None:
    tokens: list[int] = []
    while allowed := space.allowed_tokens(tokens):
        assert all(0 <= t < len(space.vocabulary) for t in allowed)
        tokens.append(data.draw(st.sampled_from(allowed)))
    assert len(tokens) == space.sequence_length
    arch = space.from_tokens(tokens)
    assert arch in space
    assert space.to_tokens(arch) == tokens
