import numpy as np
import pytest
import torch

from optuna_nas import DartsSpace, NB201Space
from optuna_nas.nao import EPD
from optuna_nas.nao._data import arch_tokens
from optuna_nas.nao._proposals import (
    _Allowed,
    _alternatives,
    _alternatives_by_list,
    _valid,
    gradient_step,
    gradient_walk,
)
from optuna_nas.nao._training import fit_epd

SPACES = [NB201Space(cells=[1, 2]), DartsSpace(channels=[16, 36], cells=[1, 2])]


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.kind)
def test_shapes(space):
    torch.manual_seed(0)
    model = EPD(len(space.vocabulary), n_heads=3)
    rng = np.random.default_rng(0)
    tokens = torch.tensor([space.to_tokens(space.sample(rng)) for _ in range(4)])
    outputs = model.encode(tokens)
    assert outputs.shape == (4, space.sequence_length, 96)
    torch.testing.assert_close(outputs.norm(dim=-1), torch.ones(4, space.sequence_length))
    assert model.predict(outputs).shape == (4, 3)
    logits = model.reconstruction_logits(outputs, tokens)
    assert logits.shape == (4, space.sequence_length, len(space.vocabulary))


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.kind)
def test_decoding_yields_valid_architectures_from_any_embedding(space):
    torch.manual_seed(1)
    model = EPD(len(space.vocabulary), n_heads=1)
    # Untrained weights and arbitrary points: the constraint alone keeps them valid.
    outputs = torch.nn.functional.normalize(torch.randn(64, space.sequence_length, 96), dim=-1)
    sequences = model.decode(outputs, space.allowed_tokens)
    archs = [space.from_tokens(seq) for seq in sequences]  # raises on an invalid token
    assert all(arch in space for arch in archs)


@pytest.mark.parametrize(
    "space", [NB201Space(), DartsSpace(nodes=2)], ids=lambda s: f"{s.kind}-{s.sequence_length}"
)
def test_reconstruction_is_learnt_on_a_small_set(space):
    rng = np.random.default_rng(2)
    archs = [space.sample(rng) for _ in range(24)]
    fit = fit_epd(space, archs, rng.random((24, 1)), rng, steps=400, n_unlabelled=0)
    tokens = fit.tokens(space, archs)
    decoded = torch.tensor(fit.model.decode(fit.model.encode(tokens), space.allowed_tokens))
    wrong = (decoded != tokens).sum(dim=1).double().mean().item()
    assert wrong < 0.5, f"mean wrong tokens {wrong}"


def _convs(arch):
    arch = arch.without_dead_ops()
    return sum(op.startswith("nor_conv") for node in arch.normal for op, _ in node)


def test_gradient_steps_and_walks_move_along_the_predicted_objective():
    # Objective: number of conv edges, known exactly, so the direction can be checked.
    space = NB201Space()
    rng = np.random.default_rng(3)
    archs = [space.sample(rng).without_dead_ops() for _ in range(200)]
    values = np.array([[_convs(a)] for a in archs], dtype=float)
    fit = fit_epd(space, archs, values, rng, steps=300, n_unlabelled=100)
    middle = [a for a in archs if _convs(a) == 3][:12]
    tokens = fit.tokens(space, middle)
    pools = {}
    for sign in (1.0, -1.0):
        # Weights +1 walk down the prediction, -1 up it.
        weights = torch.full((len(middle), 1), sign)
        path = [fit.model.encode(tokens).detach()]
        for _ in range(5):
            path.append(gradient_step(fit.model, path[-1], weights, 0.05))
        with torch.no_grad():
            scores = [(fit.model.predict(h) * weights).sum().item() for h in path]
        assert all(b < a for a, b in zip(scores, scores[1:], strict=False)), scores
        # Greedy decodings only: the alternatives would fill the pool at the start.
        found = gradient_walk(
            fit.model, space, tokens, weights, n_wanted=40, max_steps=15, alternatives=False
        )
        assert len(found) >= 20
        pools[sign] = np.mean([_convs(a) for a in found])
    # The decoded architectures move the true objective the same way.
    assert pools[1.0] < 2.5 and pools[-1.0] > pools[1.0] + 0.5, pools


def test_walks_only_return_new_distinct_architectures():
    space = NB201Space()
    rng = np.random.default_rng(4)
    archs = [space.sample(rng) for _ in range(40)]
    fit = fit_epd(space, archs, rng.random((40, 2)), rng, steps=50, n_unlabelled=50)
    taken = {a.fingerprint for a in archs}
    found = gradient_walk(
        fit.model, space, fit.tokens(space, archs[:8]), torch.rand(8, 2), n_wanted=30, taken=taken
    )
    fingerprints = [a.fingerprint for a in found]
    assert len(set(fingerprints)) == len(fingerprints) > 0
    assert not taken & set(fingerprints)
    assert all(arch_tokens(space, a) for a in found)


def test_a_step_weighs_the_heads_directions_not_their_slopes():
    space = NB201Space()
    rng = np.random.default_rng(5)
    archs = [space.sample(rng) for _ in range(30)]
    fit = fit_epd(space, archs, rng.random((30, 2)), rng, steps=30, n_unlabelled=0)
    outputs = fit.model.encode(fit.tokens(space, archs[:6])).detach()
    weights = torch.full((6, 2), 0.5)
    before = gradient_step(fit.model, outputs, weights, 0.1)
    with torch.no_grad():  # head 0 predicts 50x steeper: same direction, larger slope
        fit.model.predictor[-1].weight[0] *= 50
        fit.model.predictor[-1].bias[0] *= 50
    torch.testing.assert_close(gradient_step(fit.model, outputs, weights, 0.1), before)
    only_first = gradient_step(fit.model, outputs, torch.tensor([[1.0, 0.0]] * 6), 0.1)
    assert not torch.allclose(only_first, before)


@pytest.mark.parametrize("space", SPACES, ids=lambda s: s.kind)
def test_alternatives_change_one_position_of_a_decoding_and_stay_valid(space):
    rng = np.random.default_rng(6)
    archs = [space.sample(rng) for _ in range(30)]
    fit = fit_epd(space, archs, rng.random((30, 2)), rng, steps=60, n_unlabelled=30)
    tokens = fit.tokens(space, archs[:5])
    outputs = fit.model.encode(tokens).detach()
    sequences = fit.model.decode(outputs, space.allowed_tokens)
    nearby = _alternatives(fit.model, outputs, sequences, _Allowed(space))
    assert len(nearby) > len(sequences)
    # The vectorised choice is the list's: the first largest logit among the others.
    with torch.no_grad():
        logits = fit.model.reconstruction_logits(outputs, torch.tensor(sequences)).numpy()
    assert nearby == _alternatives_by_list(logits, sequences, _Allowed(space))
    for seq in nearby:
        assert min(sum(a != b for a, b in zip(seq, s, strict=True)) for s in sequences) == 1
    assert sum(_valid(space, tuple(seq)) is not None for seq in nearby) >= len(nearby) // 2
    weights = torch.rand(5, 2, generator=torch.Generator().manual_seed(0))
    # Walks of every step: the alternatives join the greedy path, they do not move it.
    greedy = gradient_walk(
        fit.model, space, tokens, weights, 10**6, max_steps=5, alternatives=False
    )
    wider = gradient_walk(fit.model, space, tokens, weights, 10**6, max_steps=5)
    assert {a.fingerprint for a in greedy} <= {a.fingerprint for a in wider}
    assert len(wider) > len(greedy)
    assert all(a in space for a in wider)
