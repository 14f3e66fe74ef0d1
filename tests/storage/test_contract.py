"""The storage contract holds: every key in ``storage/keys.py``, every private touch in ``storage/``.

Both are read from the source with ``ast``; nothing is run.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "optuna_nas"
CONTRACT = PACKAGE / "storage"
PRIVATE = {"_storage", "_trial_id", "_study_id", "_get_trials"}
"""Attributes of Optuna's Study and FrozenTrial that are not public API."""
NAMESPACES = ("nas:", "tnd:", "nao:", "retrain:")


def _outside_the_contract() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if CONTRACT not in p.parents]


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"


def test_optunas_private_storage_api_is_touched_only_by_the_contract():
    found = []
    for path in _outside_the_contract():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
                found.append(f"{_where(path, node)} .{node.attr}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "optuna.storages._"
            ):
                found.append(f"{_where(path, node)} from {node.module}")
    assert found == [], "use optuna_nas.storage instead:\n" + "\n".join(found)


def test_the_scan_sees_private_access():
    # guard against a scan that silently finds nothing
    source = "def f(study, trial):\n    return study._storage, trial._trial_id\n"
    attrs = [n.attr for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Attribute)]
    assert set(attrs) == {"_storage", "_trial_id"}
    assert "study._storage" in (CONTRACT / "_access.py").read_text(encoding="utf-8")


def test_every_namespaced_key_is_defined_in_the_keys_module():
    found = []
    for path in _outside_the_contract():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                if isinstance(value, str) and value.startswith(NAMESPACES):
                    found.append(f"{_where(path, node)} {value!r}")
    assert found == [], "define storage keys in optuna_nas/storage/keys.py:\n" + "\n".join(found)


def test_keys_of_one_store_are_distinct():
    from optuna_nas.storage import keys

    names = [n for n in dir(keys) if n.isupper() and isinstance(getattr(keys, n), str)]
    values = [getattr(keys, n) for n in names]
    # "tnd:stage" is both a study system attr (where the search is) and a supernet
    # trial's user attr (its stage): different stores, one meaning.
    shared = {v for v in values if values.count(v) > 1}
    assert shared == {"tnd:stage"}
    assert keys.TND_STAGE == keys.TND_TRIAL_STAGE
    tnd = [v for n, v in zip(names, values, strict=True) if n.startswith("TND_")]
    assert tnd and all(v.startswith(keys.TND_PREFIX) for v in tnd)
