"""The ``optuna-nas`` command."""

from optuna_nas.cli._main import build_parser, main

__all__ = ["build_parser", "main"]
