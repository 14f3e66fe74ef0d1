from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import optuna
import torch
from optuna.samplers import BaseSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial

from optuna_nas.encoding import Architecture, BaseSpace
from optuna_nas.nao._proposals import gradient_walk
from optuna_nas.nao._scorers import EPDScorer, GPScorer, Proposals, Scorer
from optuna_nas.nao._training import FittedEPD, fit_epd
from optuna_nas.search import (
    ArchitectureSampler,
    CheapObjective,
    cheap_objectives,
    exact_columns,
    minimised_values,
    nondomination_ranks,
)
from optuna_nas.storage import keys, study_key, trial_id, write_trial_system_attr

DIRECTIONS = 4
"""Walks (each with its own random scalarisation weights) from every seed."""
STEPS_PER_ARCHITECTURE = 3
"""Adam steps of a fit from scratch per evaluated architecture (more overfits)."""
OPTIMISM = 0.5
"""With ``scorer="gp"``, candidates are scored this many predictive deviations better."""
_SCORERS = {"gp": lambda: GPScorer(OPTIMISM), "epd": EPDScorer}
SCORERS = tuple(_SCORERS)
"""Names of the built-in scorers (the first is the default)."""


@dataclass
class _Fit:
    """An EPD trained on the completed trials ``trial_ids`` of study ``study_key``."""

    study_key: tuple[int, int]
    trial_ids: frozenset[int]
    epd: FittedEPD


class NAOSampler(ArchitectureSampler):
    """NAO: gradient steps in a learned architecture embedding (Luo et al., NeurIPS 2018).

    Every trial is one proposal. After ``n_initial`` random architectures, each call:

    1. fits the encoder-predictor-decoder (:class:`~optuna_nas.nao.EPD`) to the
       completed trials in storage: one predictor head per objective, each normalised
       to its empirical quantile; random unevaluated architectures join the
       reconstruction loss. The fit is reused until the completed trials grew by
       ``retrain_every`` (and by 10%);
    2. takes the ``n_seeds`` best architectures (non-domination rank first) and walks
       from each in several directions: every walk has random scalarisation weights
       of the predicted objectives and repeats NAO's step (move the embedding down the
       weighted prediction's gradient, decode, continue from the decoded
       architecture), until ``n_candidates`` architectures not yet evaluated or
       running were decoded. Each decoding also brings its ``alternatives``: the
       sequence with one position changed to the decoder's next most likely token
       (walks settle within a few steps: greedy decodings alone were 100-200 new
       architectures per proposal on NAS-Bench-201);
    3. scores each candidate with its cheap objectives computed exactly and its
       expensive ones predicted, and evaluates the one with the largest predicted
       hypervolume improvement of the evaluated front; the ``scorer`` strategy
       (:class:`~optuna_nas.nao.Scorer`) decides. ``scorer="epd"``
       (:class:`~optuna_nas.nao.EPDScorer`) is the paper's: the EPD's predictor
       scores. ``"gp"`` (the default, :class:`~optuna_nas.nao.GPScorer`) asks a
       Gaussian process (:class:`~optuna_nas.surrogate.ObjectiveModel`) instead, half
       a predictive deviation optimistic, against the front of its de-noised values:
       on NAS-Bench-201 the LSTM predictor, trained on a few hundred architectures,
       ranks the top candidates worse than the GP, while its gradient still finds them.
       Either way the EPD's prediction is stored in the trial's system attr
       ``"nao:predicted"``. The trial first claims the
       architecture's fingerprint in storage (``TrialArchitectures.claim``); if another
       worker claimed it meanwhile, the next best candidate is taken.

    Nothing lives only in the sampler: the EPD is a cache of what storage holds, so
    several workers, a restarted process and a fresh sampler all continue the search,
    and no two live trials evaluate the same architecture.

    Parameters
    ----------
    space:
        The search space (params are those of ``space.distributions()``).
    cheap_objectives:
        Study metric name -> ``Architecture -> float`` for objectives known before
        training: their predictor heads only steer the walks, candidates are scored
        with the exact values. Default: every study metric naming a cheap registered
        objective (``params``, ``flops``, ...).
    n_initial:
        Random architectures evaluated before the EPD is first fitted.
    n_seeds:
        Architectures the walks start from.
    n_candidates:
        New architectures to decode before choosing one.
    n_unlabelled:
        Random architectures drawn for each fit that only train the reconstruction, so
        the decoder knows the space beyond the evaluated architectures.
    retrain_every:
        Fewest newly completed trials before the EPD is fitted again.
    max_steps:
        A fit takes 3 Adam steps (batches of 100 evaluated + 50 random architectures)
        per evaluated architecture, at least 50, from scratch; once that exceeds
        ``max_steps``, refits continue from the last fit for ``max_steps // 6`` steps.
    trade_off:
        Weight lambda of the prediction loss (the reconstruction loss gets 1 - lambda).
    embedding, hidden:
        Token embedding and LSTM widths.
    scorer:
        Which model chooses among the decoded candidates: any object with the
        :class:`~optuna_nas.nao.Scorer` protocol (``score(proposals)`` -> one score
        per candidate, larger first), or a built-in one by name: ``"gp"`` (also
        ``None``, the default) or ``"epd"``.
    alternatives:
        Also take each decoding's single-position alternatives as candidates
        (``False``: greedy decoding only, as in the paper).
    seed:
        Seed of the random initial architectures, the scalarisation weights and the
        EPD's initialisation and shuffling.
    fallback_sampler:
        Samples params the space does not own (default ``RandomSampler``).
    device:
        Where the EPD runs; default CUDA when available, else CPU.
    """

    def __init__(
        self,
        space: BaseSpace,
        *,
        cheap_objectives: Mapping[str, CheapObjective] | None = None,
        n_initial: int = 10,
        n_seeds: int = 20,
        n_candidates: int = 400,
        n_unlabelled: int = 500,
        retrain_every: int = 5,
        max_steps: int = 600,
        trade_off: float = 0.8,
        embedding: int = 48,
        hidden: int = 96,
        scorer: Scorer | str | None = None,
        alternatives: bool = True,
        seed: int | None = None,
        fallback_sampler: BaseSampler | None = None,
        device: str | torch.device | None = None,
    ) -> None:
        if min(n_initial, n_seeds, n_candidates, retrain_every, max_steps) < 1:
            raise ValueError(
                "n_initial, n_seeds, n_candidates, retrain_every and max_steps must be >= 1."
            )
        if not 0.0 <= trade_off <= 1.0:
            raise ValueError(f"trade_off must be in [0, 1], got {trade_off}.")
        scorer = self.strategy(
            "scorer",
            scorer,
            _SCORERS,
            "score(proposals)",
            "optuna_nas.nao.Scorer",
        )
        super().__init__(space, seed=seed, fallback_sampler=fallback_sampler)
        self._scorer: Scorer = scorer
        self._alternatives = alternatives
        self._cheap = dict(cheap_objectives) if cheap_objectives is not None else None
        self._n_initial = n_initial
        self._n_seeds = n_seeds
        self._n_candidates = n_candidates
        self._n_unlabelled = n_unlabelled
        self._retrain_every = retrain_every
        self._max_steps = max_steps
        self._trade_off = trade_off
        self._widths = (embedding, hidden)
        self._device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self._fit: _Fit | None = None

    def sample_architecture(self, study: optuna.Study, trial: FrozenTrial) -> Architecture:
        taken, complete = self.history(study)
        complete = [(t, a) for t, a in complete if np.all(np.isfinite(t.values))]
        if len(complete) >= self._n_initial:
            # Another worker may have claimed a proposal since ``taken`` was read: it
            # gives way to the next best, and its prediction is not recorded.
            proposals = self._propose(study, complete, taken)
            if (kept := self.first_claimed(study, trial, proposals, taken)) is not None:
                arch, predicted = kept
                write_trial_system_attr(study, trial, keys.NAO_PREDICTED, predicted)
                return arch
        return self.random_new_architecture(study, trial, taken)

    # ------------------------------------------------------------------ the algorithm
    def _propose(
        self,
        study: optuna.Study,
        complete: list[tuple[FrozenTrial, Architecture]],
        taken: set[str],
    ) -> list[tuple[Architecture, list[float]]]:
        """New architectures, best first, each with its predicted objective values."""
        trials = [t for t, _ in complete]
        values = minimised_values(study, trials)
        fit = self._fitted(study, complete, values)

        ranks = nondomination_ranks(study, trials)
        seeds = np.lexsort((self._rng.random(len(trials)), ranks))[: self._n_seeds]
        seeds = np.repeat(seeds, DIRECTIONS)
        weights = self._rng.dirichlet(np.ones(values.shape[1]), size=len(seeds))
        candidates = gradient_walk(
            fit.model,
            self._space,
            fit.tokens(self._space, [complete[i][1] for i in seeds]),
            torch.as_tensor(weights, dtype=torch.float32, device=self._device),
            self._n_candidates,
            taken,
            alternatives=self._alternatives,
        )
        if not candidates:
            return []
        points = fit.predict(self._space, candidates)
        exact = exact_columns(study, cheap_objectives(study, self._cheap))
        for m, function in exact.items():
            points[:, m] = [function(a) for a in candidates]
        archs = [a for _, a in complete]
        proposals = Proposals(self._space, archs, values, candidates, points, exact)
        scores = np.asarray(self._scorer.score(proposals))
        order = np.argsort(-scores, kind="stable")
        signs = np.array([1.0 if d == StudyDirection.MINIMIZE else -1.0 for d in study.directions])
        return [(candidates[i], (points[i] * signs).tolist()) for i in order]

    def _fitted(
        self,
        study: optuna.Study,
        complete: list[tuple[FrozenTrial, Architecture]],
        values: np.ndarray,
    ) -> FittedEPD:
        key = study_key(study)
        ids = frozenset(trial_id(t) for t, _ in complete)
        last = self._fit
        if last is None or last.study_key != key or not last.trial_ids <= ids:
            last = None
        elif len(ids) - len(last.trial_ids) < max(self._retrain_every, len(last.trial_ids) // 10):
            return last.epd
        steps = max(50, STEPS_PER_ARCHITECTURE * len(ids))
        # Small fits start from scratch: their result depends on storage alone.
        warm = last is not None and steps > self._max_steps
        epd = fit_epd(
            self._space,
            [a for _, a in complete],
            values,
            self._rng,
            steps=self._max_steps // 6 if warm else min(steps, self._max_steps),
            warm=last.epd.model if warm else None,
            n_unlabelled=self._n_unlabelled,
            trade_off=self._trade_off,
            embedding=self._widths[0],
            hidden=self._widths[1],
            device=self._device,
        )
        self._fit = _Fit(key, ids, epd)
        return epd
