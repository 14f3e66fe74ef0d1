from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from optuna_nas.encoding import Architecture
from optuna_nas.objectives._cost import count_flops, count_params, measure_latency, thop_macs


class CostFunction(Protocol):
    def __call__(
        self, arch: Architecture, *, input_shape: tuple[int, int, int], num_classes: int
    ) -> float: ...


@dataclass(frozen=True)
class ObjectiveSpec:
    """A named objective.

    Attributes
    ----------
    name:
        The metric name (``study.metric_names`` uses it).
    direction:
        ``"minimize"`` or ``"maximize"``.
    cheap:
        ``True`` if ``fn`` computes it from the architecture alone (no training);
        ``False`` for objectives that need a trained network (``fn`` is ``None``).
    fn:
        ``fn(arch, *, input_shape, num_classes) -> float`` for cheap objectives.
    description:
        One line for help texts.
    """

    name: str
    direction: str
    cheap: bool
    fn: CostFunction | None = None
    description: str = ""

    def evaluate(
        self,
        arch: Architecture,
        input_shape: tuple[int, int, int] = (3, 32, 32),
        num_classes: int = 10,
    ) -> float:
        """Value of a cheap objective for ``arch``."""
        return self.bind(input_shape, num_classes)(arch)

    def bind(
        self, input_shape: tuple[int, int, int] = (3, 32, 32), num_classes: int = 10
    ) -> Callable[[Architecture], float]:
        """``Architecture -> float`` for a fixed input shape and class count."""
        fn = self.fn
        if fn is None:
            raise ValueError(
                f"objective {self.name!r} needs a trained network; it cannot be computed "
                "from the architecture alone."
            )
        shape = tuple(input_shape)

        def cost(arch: Architecture) -> float:
            return float(fn(arch, input_shape=shape, num_classes=num_classes))

        return cost


_REGISTRY: dict[str, ObjectiveSpec] = {}


def register_objective(
    name: str,
    direction: str,
    *,
    cheap: bool,
    fn: CostFunction | None = None,
    description: str = "",
    overwrite: bool = False,
) -> ObjectiveSpec:
    """Add a named objective; user-defined cheap objectives work everywhere built-ins do.

    Examples
    --------
    >>> from optuna_nas.objectives import register_objective
    >>> spec = register_objective(
    ...     "edges", "minimize", cheap=True,
    ...     fn=lambda arch, **_: sum(op != "none" for node in arch.normal for op, _ in node),
    ... )
    """
    if direction not in ("minimize", "maximize"):
        raise ValueError(
            f"objective {name!r}: direction must be 'minimize' or 'maximize', got {direction!r}."
        )
    if cheap and fn is None:
        raise ValueError(f"objective {name!r}: a cheap objective needs fn(arch, **kwargs).")
    if not cheap and fn is not None:
        raise ValueError(f"objective {name!r}: only cheap objectives take fn.")
    if name in _REGISTRY and not overwrite:
        raise ValueError(f"objective {name!r} is already registered; pass overwrite=True.")
    spec = ObjectiveSpec(name, direction, cheap, fn, description)
    _REGISTRY[name] = spec
    return spec


def get_objective(name: str) -> ObjectiveSpec:
    """The registered objective ``name``; ``ValueError`` lists the known names."""
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(
            f"unknown objective {name!r}; known objectives: {sorted(_REGISTRY)}. "
            "Register new ones with optuna_nas.objectives.register_objective."
        ) from None


def format_value(value: float | None) -> str:
    """An objective value as people read it: counts as integers, the rest to 4 digits.

    ``0.5800000000000001`` prints as ``0.58``, ``18594.0`` (params) as ``18594`` and
    ``2.31e6`` FLOPs as ``2310000``; a missing or NaN value as ``-``.
    """
    if value is None or value != value:
        return "-"
    if float(value).is_integer() and abs(value) >= 1:
        return str(int(value))
    return f"{value:.4g}"


def list_objectives() -> list[ObjectiveSpec]:
    """All registered objectives."""
    return list(_REGISTRY.values())


def _latency(arch: Architecture, *, input_shape: tuple[int, int, int], num_classes: int) -> float:
    return measure_latency(arch, input_shape, num_classes).milliseconds


register_objective(
    "error", "minimize", cheap=False, description="validation error (1 - accuracy) after training"
)
register_objective(
    "accuracy", "maximize", cheap=False, description="validation accuracy after training"
)
register_objective(
    "params", "minimize", cheap=True, fn=count_params, description="trainable parameters"
)
register_objective(
    "flops",
    "minimize",
    cheap=True,
    fn=count_flops,
    description="FLOPs of one forward pass on one image (torch.utils.flop_counter)",
)
register_objective(
    "macs",
    "minimize",
    cheap=True,
    fn=thop_macs,
    description="multiply-accumulates as counted by thop (opt-in, slower)",
)
register_objective(
    "latency",
    "minimize",
    cheap=True,
    fn=_latency,
    description="median CPU inference latency in ms, batch 1, 1 thread",
)
