"""The objective registry: built-ins, user objectives, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from optuna_nas import NB201Space
from optuna_nas.objectives import (
    ObjectiveSpec,
    _registry,
    count_flops,
    count_params,
    get_objective,
    list_objectives,
    register_objective,
    thop_macs,
)

ARCH = NB201Space(channels=4, cells=1).from_nb201_string(
    "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|none~1|avg_pool_3x3~2|"
)


@pytest.fixture
def registry() -> Iterator[None]:
    """Restore the registry after a test that registers objectives."""
    saved = dict(_registry._REGISTRY)
    yield
    _registry._REGISTRY.clear()
    _registry._REGISTRY.update(saved)


def test_built_in_objectives() -> None:
    expected = {
        "error": ("minimize", False),
        "accuracy": ("maximize", False),
        "params": ("minimize", True),
        "flops": ("minimize", True),
        "macs": ("minimize", True),
        "latency": ("minimize", True),
    }
    for name, (direction, cheap) in expected.items():
        spec = get_objective(name)
        assert isinstance(spec, ObjectiveSpec)
        assert (spec.name, spec.direction, spec.cheap) == (name, direction, cheap)
        assert (spec.fn is not None) == cheap
        assert spec.description
    assert set(expected) <= {spec.name for spec in list_objectives()}


def test_built_in_cheap_objectives_compute_their_costs() -> None:
    assert get_objective("params").evaluate(ARCH) == count_params(ARCH)
    assert get_objective("flops").evaluate(ARCH, (1, 28, 28), 5) == count_flops(
        ARCH, (1, 28, 28), 5
    )
    assert get_objective("macs").evaluate(ARCH) == thop_macs(ARCH)
    flops = get_objective("flops").bind((3, 16, 16), 10)
    assert flops(ARCH) == count_flops(ARCH, (3, 16, 16)) and isinstance(flops(ARCH), float)
    assert get_objective("latency").bind((3, 8, 8))(ARCH) > 0


@pytest.mark.parametrize("name", ["error", "accuracy"])
def test_objectives_that_need_training_cannot_be_evaluated(name) -> None:
    with pytest.raises(ValueError, match="needs a trained network"):
        get_objective(name).evaluate(ARCH)
    with pytest.raises(ValueError, match="needs a trained network"):
        get_objective(name).bind()


def test_register_a_user_objective(registry) -> None:
    calls = []

    def live_edges(arch, *, input_shape, num_classes):
        calls.append((input_shape, num_classes))
        return sum(op != "none" for node in arch.without_dead_ops().normal for op, _ in node)

    spec = register_objective(
        "test_live_edges", "minimize", cheap=True, fn=live_edges, description="live edges"
    )
    assert get_objective("test_live_edges") is spec
    assert spec in list_objectives()
    assert get_objective("test_live_edges").evaluate(ARCH) == 4.0
    assert calls[-1] == ((3, 32, 32), 10)
    bound = get_objective("test_live_edges").bind([1, 28, 28], 3)
    assert bound(ARCH) == 4.0
    assert calls[-1] == ((1, 28, 28), 3)  # the shape is passed on as a tuple

    # an objective that needs training has no fn
    register_objective("test_robust_error", "minimize", cheap=False)
    assert get_objective("test_robust_error").cheap is False


def test_register_duplicate_and_overwrite(registry) -> None:
    register_objective("test_one", "maximize", cheap=True, fn=lambda arch, **_: 1.0)
    with pytest.raises(ValueError, match="'test_one' is already registered; pass overwrite=True"):
        register_objective("test_one", "maximize", cheap=True, fn=lambda arch, **_: 2.0)
    assert get_objective("test_one").evaluate(ARCH) == 1.0
    register_objective("test_one", "minimize", cheap=True, fn=lambda arch, **_: 2.0, overwrite=True)
    assert get_objective("test_one").evaluate(ARCH) == 2.0
    assert get_objective("test_one").direction == "minimize"
    with pytest.raises(ValueError, match="'params' is already registered"):
        register_objective("params", "minimize", cheap=True, fn=count_params)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"direction": "min", "cheap": True, "fn": count_params},
            "direction must be 'minimize' or 'maximize', got 'min'",
        ),
        ({"direction": "MAXIMIZE", "cheap": False}, "direction must be"),
        ({"direction": "minimize", "cheap": True}, "a cheap objective needs fn"),
        (
            {"direction": "minimize", "cheap": False, "fn": count_params},
            "only cheap objectives take fn",
        ),
    ],
)
def test_bad_registrations(registry, kwargs, message) -> None:
    with pytest.raises(ValueError) as info:
        register_objective("test_bad", **kwargs)
    assert message in str(info.value)
    assert "test_bad" not in {spec.name for spec in list_objectives()}


def test_unknown_objective_lists_the_known_ones() -> None:
    with pytest.raises(ValueError) as info:
        get_objective("test_no_such_objective")
    message = str(info.value)
    assert "unknown objective 'test_no_such_objective'" in message
    assert "'flops'" in message and "'params'" in message
    assert "register_objective" in message


def test_registry_fixture_cleans_up() -> None:
    # runs after the tests above: none of their objectives is left behind
    assert not [spec.name for spec in list_objectives() if spec.name.startswith("test_")]
