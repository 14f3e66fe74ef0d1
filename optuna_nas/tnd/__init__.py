"""TND-NAS (Lyu, Wen et al., arXiv 2111.03892): a supernet searched by REINFORCE on α.

Non-differentiable objectives (parameters, FLOPs, latency) enter a reward computed
on discretely sampled sub-architectures; the search space shrinks by α over stages.
One supernet and one pool of scored samples per update serve every trade-off setting
(each with its own α), so the search costs about the same for 3 settings as for 12;
each setting derives one architecture, trained from scratch at the end.
"""

from optuna_nas.tnd._derive import derive
from optuna_nas.tnd._distribution import ArchitectureDistribution, Decision
from optuna_nas.tnd._driver import TNDEvent, TNDSearch
from optuna_nas.tnd._policy import policy_records, policy_summary
from optuna_nas.tnd._reinforce import Reinforce, RewardBaseline
from optuna_nas.tnd._reward import TradeOff, trade_off_ladder
from optuna_nas.tnd._sampler import TNDSampler
from optuna_nas.tnd._supernet import (
    DartsSupernet,
    MixedEdge,
    NB201Supernet,
    Supernet,
    architecture_selection,
    build_supernet,
)
from optuna_nas.tnd._training import SupernetTrainer, supernet_accuracy

__all__ = [
    "ArchitectureDistribution",
    "DartsSupernet",
    "Decision",
    "MixedEdge",
    "NB201Supernet",
    "Reinforce",
    "RewardBaseline",
    "Supernet",
    "SupernetTrainer",
    "TNDEvent",
    "TNDSampler",
    "TNDSearch",
    "TradeOff",
    "architecture_selection",
    "build_supernet",
    "derive",
    "policy_records",
    "policy_summary",
    "supernet_accuracy",
    "trade_off_ladder",
]
