"""Which decoded candidate NAO evaluates: the scorer strategy and its two defaults.

:class:`~optuna_nas.nao.NAOSampler` decodes candidates by gradient walks in the EPD's
embedding; a scorer turns them into scores, and the sampler claims the best one it
can. A scorer sees plain data only (:class:`Proposals`), never the study.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.surrogate import ObjectiveModel, improvement_scores


@dataclass(frozen=True, eq=False)
class Proposals:
    """One sampler call's candidates and what they are judged against.

    Attributes
    ----------
    space:
        The search space.
    archs:
        The evaluated (completed) architectures.
    values:
        ``(len(archs), M)`` their objective values in the study's order, all minimised.
    candidates:
        The new architectures the walks decoded.
    points:
        ``(len(candidates), M)`` their values: the EPD's predictions (normalised
        quantiles, lower is better) in the predicted columns, exact minimised values
        in the columns of ``exact``.
    exact:
        Column -> minimised exact function, for the objectives known before training.
    """

    space: BaseSpace
    archs: Sequence[Architecture]
    values: np.ndarray
    candidates: Sequence[Architecture]
    points: np.ndarray
    exact: Mapping[int, Callable[[Architecture], float]]

    @property
    def predicted(self) -> np.ndarray:
        """``(M,)`` booleans: which columns of :attr:`points` are predictions."""
        return np.array([m not in self.exact for m in range(self.values.shape[1])])


@runtime_checkable
class Scorer(Protocol):
    """How NAO chooses among its candidates; pass one as ``NAOSampler(scorer=...)``.

    Called once per trial; the candidate with the largest score is evaluated (the
    next ones stand in, in order, if other workers claim it first). A scorer should
    be a function of its input alone, so workers and a restarted process agree.
    """

    def score(self, proposals: Proposals) -> np.ndarray:
        """``(len(proposals.candidates),)`` scores, larger is better."""


class EPDScorer:
    """The paper's scorer: the EPD's own predictions, by hypervolume improvement.

    Each candidate scores its improvement of the evaluated front
    (:func:`~optuna_nas.surrogate.improvement_scores`) at :attr:`Proposals.points`.
    """

    def score(self, proposals: Proposals) -> np.ndarray:
        return improvement_scores(proposals.values, proposals.points, proposals.predicted)

    def __repr__(self) -> str:
        return "EPDScorer()"


class GPScorer:
    """A Gaussian process predicts the expensive objectives instead (the default).

    An :class:`~optuna_nas.surrogate.ObjectiveModel` fitted to the evaluated
    architectures scores each candidate's hypervolume improvement of the front of
    its de-noised values, ``optimism`` predictive deviations optimistic, with the
    exact columns of :attr:`Proposals.points`. On NAS-Bench-201 the LSTM predictor,
    trained on a few hundred architectures, ranks the top candidates worse than the
    GP, while its gradient still finds them. With fewer than three evaluated
    architectures it scores like :class:`EPDScorer`.

    Parameters
    ----------
    optimism:
        Predictive deviations subtracted from each predicted (minimised) objective.
    """

    def __init__(self, optimism: float = 0.5) -> None:
        self.optimism = optimism

    def score(self, proposals: Proposals) -> np.ndarray:
        if len(proposals.archs) < 3:
            return EPDScorer().score(proposals)
        # Its own generator: the model is a function of storage alone.
        model = ObjectiveModel(proposals.space, proposals.archs, proposals.values,
                               proposals.exact, np.random.default_rng(0))  # fmt: skip
        return model.improvement(proposals.candidates, self.optimism, exact=proposals.points)

    def __repr__(self) -> str:
        return f"GPScorer(optimism={self.optimism})"
