"""The layers of optuna_nas, read from the source: who may import whom, and file sizes.

Every ``import`` statement counts, also those inside functions and
``TYPE_CHECKING`` blocks: the imports are parsed with ``ast``, nothing is run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "optuna_nas"
ALGORITHMS = ("lemonade", "nao", "tnd")
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports (``from a import b`` also counts ``a.b``)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return found


def area(module: str) -> str | None:
    """The subpackage (or top-level module) of ``optuna_nas`` a module belongs to.

    ``""`` is the top-level package itself; ``None`` is outside ``optuna_nas``.
    """
    parts = module.split(".")
    if parts[0] != "optuna_nas":
        return None
    return parts[1] if len(parts) > 1 else ""


def known_area(module: str) -> str | None:
    """:func:`area`, with ``optuna_nas.x`` for a name ``x`` that is not a module dropped."""
    name = area(module)
    if name and not (PACKAGE / name).is_dir() and not (PACKAGE / f"{name}.py").is_file():
        return ""  # ``from optuna_nas import Architecture``: the top-level package
    return name


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
IMPORTS = {name: imported_modules(path) for name, path in MODULES.items()}


def violations(source_area: str, forbidden) -> list[str]:
    """``"module -> import"`` for every import of a module in ``source_area`` that
    ``forbidden(imported module)`` rejects."""
    return sorted(
        f"{name} -> {imported}"
        for name, imports in IMPORTS.items()
        if area(name) == source_area
        for imported in imports
        if forbidden(imported)
    )


def test_the_import_graph_is_read() -> None:
    # guard against a parser that silently finds nothing
    assert "optuna_nas.encoding._architecture" in IMPORTS["optuna_nas.encoding"]
    assert "torch" in IMPORTS["optuna_nas.networks._operations"]
    assert "optuna_nas.encoding" in IMPORTS["optuna_nas.networks._build"]


def test_the_encoding_imports_no_torch_and_no_other_subpackage() -> None:
    def forbidden(imported: str) -> bool:
        root = imported.split(".")[0]
        return root in ("torch", "torchvision") or known_area(imported) not in (None, "encoding")

    assert violations("encoding", forbidden) == []


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_algorithm_imports_another(algorithm: str) -> None:
    others = set(ALGORITHMS) - {algorithm}
    forbidden = others | {"", "samplers"}  # the top level and samplers import every algorithm
    assert violations(algorithm, lambda imported: known_area(imported) in forbidden) == []


def test_networks_import_no_search_algorithm_or_cli() -> None:
    above = {"search", "cli", "samplers", "", *ALGORITHMS}
    assert violations("networks", lambda imported: known_area(imported) in above) == []


def test_the_surrogate_sees_no_study_and_no_sampler() -> None:
    # Like optuna/_gp/: architectures, spaces and arrays in, numbers out. Optuna's
    # numeric helpers on arrays are fine; its studies, trials and storages are not.
    numeric = {"optuna._hypervolume", "optuna.study._multi_objective"}

    def forbidden(imported: str) -> bool:
        if imported.split(".")[0] == "optuna":
            return not any(imported == m or imported.startswith(f"{m}.") for m in numeric)
        return known_area(imported) not in (None, "encoding", "surrogate")

    assert violations("surrogate", forbidden) == []


def test_the_storage_contract_sits_below_everything_but_the_encoding() -> None:
    # Every layer that reads or writes storage (search, workers, final, cli, the
    # algorithms) imports it, so it imports none of them.
    forbidden = lambda imported: known_area(imported) not in (None, "encoding", "storage")  # noqa: E731
    assert violations("storage", forbidden) == []


def test_no_module_exceeds_the_line_limit() -> None:
    lengths = {
        name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in MODULES.items()
    }
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_the_subpackages_import_each_other_without_a_circle() -> None:
    graph: dict[str, set[str]] = {}
    for name, imports in IMPORTS.items():
        for imported in imports:
            target = known_area(imported)
            if target is not None and target != area(name):
                graph.setdefault(area(name), set()).add(target)

    def circle_from(start: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph.get(path[-1], ())):
            if nxt == start:
                return [*path, nxt]
            if nxt not in path and (found := circle_from(start, [*path, nxt])):
                return found
        return None

    circles = [c for a in sorted(graph) if (c := circle_from(a, [a]))]
    assert circles == [], " ; ".join(" -> ".join(c) for c in circles)


def test_a_subpackage_is_reached_through_its_public_init() -> None:
    # One public home per name: another subpackage's private module is its own business.
    def private_elsewhere(name: str, imported: str) -> bool:
        parts = imported.split(".")
        target = known_area(imported)
        return (target not in (None, "", area(name))
                and any(p.startswith("_") for p in parts[2:]))  # fmt: skip

    found = sorted(
        f"{name} -> {imported}"
        for name, imports in IMPORTS.items()
        for imported in imports
        if private_elsewhere(name, imported)
    )
    assert found == []
