"""What a finished search derives: each setting's most likely architecture, distinct if asked."""

from __future__ import annotations

import heapq
from collections.abc import Mapping

import numpy as np

from optuna_nas.encoding import Architecture
from optuna_nas.tnd._distribution import ArchitectureDistribution


def derive(
    dists: Mapping[str, ArchitectureDistribution], *, distinct: bool = True, max_tries: int = 512
) -> dict[str, Architecture]:
    """Each setting's most likely architecture under its α, in the settings' order.

    With ``distinct``, a setting whose most likely architecture an earlier setting
    already derived takes its most likely architecture that none did (by fingerprint;
    at most ``max_tries`` candidates are looked at, then it keeps the duplicate). Two
    neighbouring settings of a dense ladder often agree on the argmax although their
    α differ; this way every setting adds a point to the front that gets trained.
    """
    taken: set[str] = set()
    derived = {}
    for name, dist in dists.items():
        arch = dist.most_likely()[0]
        if distinct and arch.fingerprint in taken:
            arch = most_likely_excluding(dist, taken, max_tries) or arch
        taken.add(arch.fingerprint)
        derived[name] = arch
    return derived


def most_likely_excluding(
    dist: ArchitectureDistribution, exclude: set[str], max_tries: int = 512
) -> Architecture | None:
    """The most probable choice assignment whose architecture's fingerprint is not excluded.

    Best-first over assignments: start at every decision's argmax, expand by changing
    one decision to another active choice. The probability is a product over
    decisions, so every assignment has a likelier neighbour on the way back to the
    argmax and they come off the heap in order of probability.
    """
    names = list(dist.decisions)
    logp = []
    for name in names:
        p = dist.probabilities(name)
        logp.append(np.where(p > 0, np.log(np.where(p > 0, p, 1.0)), -np.inf))
    start = tuple(int(np.argmax(lp)) for lp in logp)
    heap = [(-sum(lp[i] for lp, i in zip(logp, start, strict=True)), start)]
    seen = {start}
    for _ in range(max_tries):
        if not heap:
            return None
        score, indices = heapq.heappop(heap)
        arch, _ = dist.from_indices(dict(zip(names, indices, strict=True)))
        if arch.fingerprint not in exclude:
            return arch
        for k, lp in enumerate(logp):
            for choice in np.flatnonzero(np.isfinite(lp)):
                if choice == indices[k]:
                    continue
                nxt = (*indices[:k], int(choice), *indices[k + 1 :])
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (score - lp[choice] + lp[indices[k]], nxt))
    return None
