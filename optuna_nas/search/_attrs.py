"""Names of the attributes optuna-nas writes to Optuna storage.

These are the contract between samplers (which choose a parent) and
:class:`~optuna_nas.NASObjective` (which inherits its weights); every worker and
the dashboard read them from storage.
"""

from __future__ import annotations

import optuna

# Trial system attrs written by a sampler before the objective runs.
PARENT_TRIAL = "nas:parent_trial"
"""Number of the trial whose weights the child starts from."""
OPERATOR = "nas:operator"
"""Name of the operator that produced the child from the parent."""
DISTILL = "nas:distill"
"""``True`` if the child first learns the parent's outputs (approximate morphisms)."""
FINGERPRINT = "nas:fingerprint"
"""Canonical fingerprint a sampler claimed for the trial (no two live trials share one)."""

# Trial user attrs written by NASObjective.
WEIGHTS_ARTIFACT = "weights_artifact_id"
WEIGHTS_SHA256 = "weights_sha256"
"""Digest of the weights file, checked before a child inherits it."""
ARCH_JSON = "arch"
LINEAGE_EPOCHS = "lineage_epochs"
"""Epochs of training behind a trial's weights: its own plus those it inherited through
network morphisms (an approximate morphism starts the count over)."""

# Study user attrs written by NASObjective on its first trial.
STUDY_SPACE = "nas:space"
STUDY_INPUT_SHAPE = "nas:input_shape"
STUDY_NUM_CLASSES = "nas:num_classes"
STUDY_DATASET = "nas:dataset"
STUDY_TRAIN_CONFIG = "nas:train_config"
STUDY_NORMALIZATION = "nas:normalization"
STUDY_INHERITS = "nas:inherits"
"""``True`` when the objective warm-starts children from their parent's weights."""


def fresh_system_attrs(trial: optuna.trial.Trial) -> dict:
    """A running trial's system attrs as storage holds them now.

    Optuna caches ``trial.system_attrs`` when the trial starts, so attrs a sampler
    wrote during ``sample_relative`` are only visible in storage.
    """
    return trial.study._storage.get_trial_system_attrs(trial._trial_id)


def trial_by_number(study: optuna.Study, number: int) -> optuna.trial.FrozenTrial:
    """A trial of ``study`` by its number, read from storage."""
    trial_id = study._storage.get_trial_id_from_study_id_trial_number(study._study_id, number)
    return study._storage.get_trial(trial_id)


def lineage_epochs(trial: optuna.trial.FrozenTrial) -> int:
    """Epochs behind a finished trial's weights (its own ``epochs`` for older records)."""
    attrs = trial.user_attrs
    return int(attrs.get(LINEAGE_EPOCHS, attrs.get("epochs", 0)))
