"""What each trade-off setting's policy looks like, per search stage, for people and the dashboard.

The driver writes one study user attr per stage (``tnd:policy:<stage>``, see
:mod:`optuna_nas.storage.keys`), rewritten after every α update of that stage, so
optuna-dashboard's study page shows the search moving: per setting the entropy of α
(and its fraction of the most the stage's search space allows), the most likely ops of
every decision, how many decisions have the same top op (collapse shows up here
first) and the reward statistics; at the stage's end also the supernet's accuracy on
training and validation images (a growing gap is the supernet overfitting).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import optuna

from optuna_nas.encoding import Architecture
from optuna_nas.storage import keys
from optuna_nas.tnd._distribution import ArchitectureDistribution
from optuna_nas.tnd._training import SupernetTrainer, supernet_accuracy


def policy_summary(dist: ArchitectureDistribution, top: int = 2) -> dict[str, Any]:
    """Entropy, the ``top`` most likely choices of every decision, and the dominant op.

    ``entropy_ratio`` is the entropy over its maximum under the current search space
    (1: uniform over the active choices); ``dominant_share`` the fraction of op
    decisions whose most likely op is ``dominant_op``.
    """
    most: dict[str, dict[str, float]] = {}
    firsts = []
    top_probability = 0.0
    for name, decision in dist.decisions.items():
        p = dist.probabilities(name)
        order = np.argsort(-p, kind="stable")[: min(top, int(dist.active[name].sum()))]
        most[name] = {decision.choices[i]: round(float(p[i]), 3) for i in order}
        top_probability = max(top_probability, float(p[order[0]]))
        if decision.source is not None:
            firsts.append(decision.choices[order[0]])
    entropy = dist.entropy()
    most_entropy = float(sum(np.log(dist.active[n].sum()) for n in dist.decisions))
    op, count = Counter(firsts).most_common(1)[0]
    return {
        "entropy": round(entropy, 4),
        "entropy_ratio": round(entropy / most_entropy, 4) if most_entropy > 0 else 1.0,
        "max_probability": round(top_probability, 4),
        "dominant_op": op,
        "dominant_share": round(count / len(firsts), 3),
        "top": most,
    }


def supernet_fit(
    trainer: SupernetTrainer,
    archs: Sequence[Architecture],
    batch_size: int,
    rng: np.random.Generator,
) -> dict[str, float]:
    """Mean accuracy of ``archs`` on shared weights: a training batch against a validation batch.

    The training images are not augmented, so the gap is the supernet's overfitting
    alone. Rewards only ever see validation images; this records how far the two part.
    """
    supernet = trainer.supernet
    result = {}
    for split, batch in (("train", trainer.train_batch), ("val", trainer.validation_batch)):
        x, y = batch(batch_size, rng)
        result[f"{split}_accuracy"] = float(
            np.mean([supernet_accuracy(supernet.select(a), x, y) for a in archs])
        )
    result["gap"] = result["train_accuracy"] - result["val_accuracy"]
    return {k: round(v, 4) for k, v in result.items()}


def record_stage(
    study: optuna.Study,
    stage: int,
    *,
    ops_per_edge: int,
    updates: int,
    dists: Mapping[str, ArchitectureDistribution],
    rewards: Mapping[str, Mapping[str, float]],
    fit: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Write (replace) the stage's record ``tnd:policy:<stage>``; return it.

    ``rewards``: per setting the reward statistics of its latest update (see
    :func:`optuna_nas.tnd._update.PoolUpdate.__call__`).
    """
    record: dict[str, Any] = {
        "stage": stage,
        "ops_per_edge": ops_per_edge,
        "updates": updates,
        "settings": {
            name: {**dict(rewards.get(name, {})), **policy_summary(dist)}
            for name, dist in dists.items()
        },
    }
    if fit is not None:
        record["supernet"] = dict(fit)
    study.set_user_attr(f"{keys.TND_POLICY}:{stage}", record)
    return record


def policy_records(study: optuna.Study) -> list[dict[str, Any]]:
    """The stage records a search has written so far, in stage order."""
    attrs = study.user_attrs
    prefix = f"{keys.TND_POLICY}:"
    return [attrs[k] for k in sorted((k for k in attrs if k.startswith(prefix)),
                                     key=lambda k: int(k[len(prefix):]))]  # fmt: skip
