"""Every name optuna-nas writes to Optuna storage, and who writes and reads it.

Samplers keep no state that storage cannot rebuild; these keys are that state.
``nas:`` keys belong to the shared search (any sampler, ``NASObjective``, the
final retraining), ``nao:`` and ``tnd:`` keys to one algorithm, ``retrain:`` keys
to a running final training. Plain names (``arch``, ``epochs``, ...) are the
trial record a person reads in the dashboard.

Besides the keys below, :class:`~optuna_nas.NASObjective` records what it measured
in each trial's user attrs: ``params``, ``flops``, ``latency_ms``, ``latency_setup``,
``val_curve``, ``val_accuracy``, ``test_accuracy``, ``train_seconds``,
``build_seconds``, ``images_per_second`` and, for a child, ``parent_trial``,
``operator``, ``inheritance``, ``initial_val_accuracy``, ``distill_val_accuracy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from optuna.trial import FrozenTrial

    from optuna_nas.encoding import Architecture

# ---------------------------------------------------------------- study user attrs
STUDY_SPACE = "nas:space"
"""``repr`` of the searched space (``NASObjective``, on its first trial)."""
STUDY_INPUT_SHAPE = "nas:input_shape"
"""``[C, H, W]`` of the images; samplers bind cheap objectives to it."""
STUDY_NUM_CLASSES = "nas:num_classes"
STUDY_DATASET = "nas:dataset"
STUDY_TRAIN_CONFIG = "nas:train_config"
"""JSON of the search's ``TrainConfig``."""
STUDY_NORMALIZATION = "nas:normalization"
"""``{"mean": [...], "std": [...]}`` the images were normalised with."""
STUDY_INHERITS = "nas:inherits"
"""``True`` when the objective warm-starts children from their parent's weights."""
SEARCH_SETTINGS = "nas:search"
"""The ``optuna-nas search`` options that define the study's trials; workers reuse them."""
BEST_CELLS = "nas:best_cells"
"""The trials in the report's cells picture and the picture's artifact id."""
STUDY_SOURCE = "nas:source_study"
"""Final (companion) study: the name of the search study."""
STUDY_RECIPE = "nas:final_recipe"
"""Final (companion) study: the recipe and data of the latest retrain run."""
FINAL_SUFFIX = ":final"
"""Not a key: the final trainings of study ``S`` live in the study ``S + FINAL_SUFFIX``."""
TND_POLICY = "tnd:policy"
"""TND-NAS: ``tnd:policy:<stage>`` holds each setting's policy in that search stage
(entropy, top ops per decision, rewards; the supernet's train/validation accuracy at the
stage's end), user attrs so optuna-dashboard shows the search's progress."""

# ---------------------------------------------------------------- study system attrs
TND_PREFIX = "tnd:"
"""What the TND-NAS driver publishes for other workers (``tnd:<name>``, all JSON)."""
TND_ALPHA = "tnd:alpha"
"""Setting -> decision -> active choice -> logit (choices removed by shrinking are absent)."""
TND_STAGE = "tnd:stage"
"""Where the search is: ``{"index", "n_stages", "ops_per_edge", "status"}``."""
TND_TRADE_OFFS = "tnd:trade_offs"
TND_BASELINES = "tnd:baselines"
"""Setting -> its reward baseline ``{"mean", "var"}`` (moving averages)."""
TND_DERIVED = "tnd:derived"
"""Setting -> JSON of the architecture it derived, once the search has finished."""
TND_SPACE = "tnd:space"
DASHBOARD_TRIAL_ARTIFACT = "dashboard:artifacts:"
"""optuna-dashboard's own: ``dashboard:artifacts:<trial id>:<artifact id>`` registers an
artifact of a trial that has finished (its own attrs are frozen then); the report's cell
pictures of each trial, which the trial notes show."""

# ---------------------------------------------------------------- trial system attrs
PARENT_TRIAL = "nas:parent_trial"
"""Number of the trial whose weights the child starts from (written by a sampler)."""
OPERATOR = "nas:operator"
"""Name of the operator(s) that produced the child from the parent (``"a+b"``: a chain)."""
DISTILL = "nas:distill"
"""``True`` if the child first learns the parent's outputs (approximate morphisms)."""
CLAIM = "nas:fingerprint"
"""Canonical fingerprint a sampler claimed for the trial (no two live trials share one)."""
NAO_PREDICTED = "nao:predicted"
"""The objective values NAO's EPD predicted for the trial (cheap ones computed)."""
TND_SETTING = "tnd:setting"
"""The trade-off setting whose α the trial was drawn from (also a user attr of the
driver's supernet trials)."""
RETRAIN_PID = "retrain:pid"
RETRAIN_HOST = "retrain:host"
"""Which process trains a RUNNING final trial."""
FIXED_PARAMS = "fixed_params"
"""Optuna's own: the params ``study.enqueue_trial`` fixed."""
HEARTBEAT = "nas:heartbeat"
"""Journal (Redis) storages: wall time of the running trial's latest heartbeat; a
watcher fails the trial once it has seen no new value for the grace period."""

# ---------------------------------------------------------------- trial user attrs
ARCH_JSON = "arch"
"""JSON of the trial's architecture (:meth:`Architecture.to_json`)."""
ARCH_STR = "arch_str"
FINGERPRINT = "fingerprint"
"""Canonical fingerprint of the trial's architecture."""
FIDELITY = "fidelity"
"""How the values were measured: :data:`FULL`, :data:`SUPERNET` or :data:`FINAL`."""
FULL = "full"
"""Trained from its own (or inherited) weights by ``NASObjective``."""
SUPERNET = "supernet"
"""Scored with a TND-NAS supernet's shared weights on one validation batch."""
FINAL = "final"
"""Retrained from scratch with the final recipe (the companion study's trials)."""
EPOCHS = "epochs"
TRAIN_SIZE = "train_size"
"""Training images the trial trained on (its fidelity, with ``epochs``)."""
LINEAGE_EPOCHS = "lineage_epochs"
"""Epochs of training behind a trial's weights: its own plus those it inherited through
network morphisms (an approximate morphism starts the count over)."""
WEIGHTS_ARTIFACT = "weights_artifact_id"
WEIGHTS_SHA256 = "weights_sha256"
"""Digest of the weights file, checked before a child inherits it."""
FAIL_REASON = "fail_reason"
WORKER = "worker"
"""``host:pid`` of the process that runs (or ran) the trial."""
DEVICE = "device"
"""Where the trial trained: ``cpu``, or ``cuda:<id>`` with the GPU's id on its machine
(``CUDA_VISIBLE_DEVICES`` resolved, so workers sharing a machine tell their GPUs apart)."""
SOURCE_TRIAL = "source_trial"
"""Final trial: number of the search-study trial it retrains."""
RECIPE = "recipe"
"""Final trial: JSON of the final recipe (``TrainConfig`` without ``device``)."""
TND_SETTINGS = "tnd:settings"
"""Derived trial: the settings that derived its architecture."""
TND_TRIAL_STAGE = "tnd:stage"
TND_REWARD = "tnd:reward"
TND_LOG_PROB = "tnd:log_prob"
"""Supernet trial: its search stage, reward and log-probability under α."""


def architecture_record(arch: Architecture, fidelity: str) -> dict[str, str]:
    """The user attrs that say which architecture a trial evaluated, and how.

    Every writer of trials (``NASObjective``, the TND-NAS driver, the final
    retraining) records these four, so readers find any trial's network the same way.
    """
    return {ARCH_JSON: arch.to_json(), ARCH_STR: str(arch), FINGERPRINT: arch.fingerprint,
            FIDELITY: fidelity}  # fmt: skip


def lineage_epochs(trial: FrozenTrial) -> int:
    """Epochs behind a finished trial's weights (its own ``epochs`` for older records)."""
    attrs = trial.user_attrs
    return int(attrs.get(LINEAGE_EPOCHS, attrs.get(EPOCHS, 0)))
