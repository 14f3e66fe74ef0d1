import itertools

import numpy as np

from optuna_nas import NB201Space
from optuna_nas.tnd import ArchitectureDistribution, derive
from optuna_nas.tnd._derive import most_likely_excluding

SPACE = NB201Space(channels=4, cells=1)


def _shrunk(seed):
    """Random α shrunk to 3 ops per edge: 3 ** 6 assignments, few enough to enumerate."""
    rng = np.random.default_rng(seed)
    dist = ArchitectureDistribution(SPACE, logits={
        name: {c: float(rng.normal(scale=2)) for c in d.choices}
        for name, d in ArchitectureDistribution(SPACE).decisions.items()})  # fmt: skip
    dist.shrink(3)
    return dist


def _ranking(dist):
    """Every architecture by the probability of its likeliest assignment, brute force."""
    names = list(dist.decisions)
    active = [np.flatnonzero(dist.active[n]) for n in names]
    best = {}
    for indices in itertools.product(*active):
        assignment = dict(zip(names, indices, strict=True))
        arch, _ = dist.from_indices(assignment)
        p = np.prod([dist.probabilities(n)[i] for n, i in assignment.items()])
        best[arch.fingerprint] = max(best.get(arch.fingerprint, 0.0), p)
    return sorted(best, key=best.get, reverse=True)


def test_the_best_first_search_finds_the_next_most_likely_architecture():
    dist = _shrunk(0)
    ranking = _ranking(dist)
    assert ranking[0] == dist.most_likely()[0].fingerprint
    for m in (1, 2, 5, 20):
        found = most_likely_excluding(dist, set(ranking[:m]))
        assert found.fingerprint == ranking[m], m
    assert most_likely_excluding(dist, set(ranking)) is None  # nothing left, nothing made up


def test_settings_that_agree_still_derive_distinct_architectures():
    dists = {"a": _shrunk(1), "b": _shrunk(1), "c": _shrunk(1), "d": _shrunk(2)}
    same = derive(dists, distinct=False)
    assert same["a"] == same["b"] == same["c"]
    derived = derive(dists)
    assert derived["a"] == same["a"]  # the first keeps its argmax
    assert len({a.fingerprint for a in derived.values()}) == 4
    ranking = _ranking(dists["a"])
    assert [derived[n].fingerprint for n in "abc"] == ranking[:3]
