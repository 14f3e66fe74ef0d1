"""``optuna-nas``: search, add workers, show the Pareto front, open the dashboard, export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

DEFAULT_STORAGE = "sqlite:///optuna_nas.db"


def _int_list(text: str) -> list[int]:
    try:
        return [int(v) for v in text.split(",") if v]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated ints, got {text!r}") from None


def _size(text: str) -> int | float:
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {text!r}") from None


def _str_list(text: str) -> list[str]:
    return [v.strip() for v in text.split(",") if v.strip()]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="optuna-nas", description="Multi-objective neural architecture search on Optuna."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    search = sub.add_parser("search", help="run (or resume) a search")
    search.add_argument("--space", choices=["nb201", "darts"], default="nb201")
    search.add_argument(
        "--dataset",
        default="fashion-mnist",
        help="a registered dataset name, or imagefolder:DIR for your own images (one folder per "
        "class; DIR/train and DIR/test when present)",
    )
    search.add_argument(
        "--image-size",
        type=int,
        default=None,
        help="resize imagefolder images to this many pixels square (default: their own size)",
    )
    search.add_argument("--data-root", default=None, help="where datasets are (or go)")
    search.add_argument(
        "--objectives",
        type=_str_list,
        default=["error", "params"],
        help="comma-separated registered objectives (default error,params)",
    )
    search.add_argument(
        "--sampler",
        default="lemonade",
        help="lemonade (default), nao, tnd, or Optuna's random, tpe, nsga2 (tnd: TND-NAS supernet "
        "search, then --n-trials derived architectures trained in full; --epochs per search stage "
        "and per trial)",
    )
    search.add_argument(
        "--n-trials",
        type=int,
        default=20,
        help="finished trials the study should have (resuming counts old ones)",
    )
    search.add_argument(
        "--n-initial",
        type=int,
        default=None,
        help="random trials before tpe, lemonade or nao start (default: n-trials / 4, at least "
        "4, at most the sampler's own 10-20); nsga2: its population (default 8)",
    )
    search.add_argument("--timeout", type=float, default=None, help="seconds for this run")
    search.add_argument("--epochs", type=int, default=3)
    search.add_argument("--batch-size", type=int, default=256)
    search.add_argument("--lr", type=float, default=0.08)
    search.add_argument(
        "--channels",
        type=_int_list,
        default=None,
        help="allowed first-stage channels, e.g. 8,16 (default: the space's)",
    )
    search.add_argument(
        "--cells",
        type=_int_list,
        default=None,
        help="allowed cells per stage, e.g. 1,2 (default: the space's)",
    )
    search.add_argument("--nodes", type=int, default=4, help="DARTS intermediate nodes")
    search.add_argument("--train-size", type=int, default=None, help="use this many train images")
    search.add_argument(
        "--val-size",
        type=_size,
        default=0.1,
        help="validation images: a count, or a fraction like 0.1 (default)",
    )
    search.add_argument("--test-size", type=int, default=None, help="use this many test images")
    _storage_args(search)
    search.add_argument(
        "--artifact-dir", default="artifacts", help="where trial weights go (shared by workers)"
    )
    search.add_argument("--seed", type=int, default=0)
    search.add_argument(
        "--workers", type=int, default=1, help="worker processes on this machine (default 1)"
    )
    search.add_argument(
        "--heartbeat-interval",
        type=int,
        default=60,
        help="seconds between a running trial's heartbeats (RDB storages; default 60)",
    )
    search.add_argument(
        "--grace-period",
        type=int,
        default=None,
        help="seconds without a heartbeat before a trial fails and is retried (default 2x)",
    )
    search.add_argument(
        "--max-retry", type=int, default=3, help="retries of a trial whose worker died"
    )
    _machine_args(search)

    worker = sub.add_parser(
        "worker", help="join a running search as one more worker (same study, any machine)"
    )
    _storage_args(worker)
    worker.add_argument(
        "--artifact-dir", default=None, help="where trial weights go (default: the search's)"
    )
    worker.add_argument("--data-root", default=None, help="where datasets are (or go)")
    worker.add_argument(
        "--seed", type=int, default=None, help="seed of this worker's sampler (default random)"
    )
    worker.add_argument("--timeout", type=float, default=None, help="seconds for this run")
    _machine_args(worker)

    dashboard = sub.add_parser("dashboard", help="open optuna-dashboard on 127.0.0.1")
    dashboard.add_argument(
        "--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default {DEFAULT_STORAGE})"
    )
    dashboard.add_argument("--artifact-dir", default="artifacts", help="where trial weights are")
    dashboard.add_argument("--port", type=int, default=8080)

    front = sub.add_parser("front", help="print the Pareto front of a study")
    _storage_args(front)

    export = sub.add_parser("export", help="export a trial's model")
    _storage_args(export)
    export.add_argument("--trial", type=int, required=True, help="trial number")
    export.add_argument("--out", required=True, help="output directory")
    export.add_argument("--artifact-dir", default="artifacts")
    export.add_argument(
        "--weights",
        choices=["auto", "final", "search"],
        default="auto",
        help="final: the 'retrain' weights; search: the search's; auto (default): final if retrained",
    )

    retrain = sub.add_parser(
        "retrain", help="train chosen trials from scratch with the full budget (final training)"
    )
    _storage_args(retrain)
    retrain.add_argument(
        "--trials",
        type=_int_list,
        default=None,
        help="comma-separated trial numbers, e.g. 3,5 (default: the Pareto front of fully "
        "trained trials)",
    )
    retrain.add_argument(
        "--epochs", type=int, default=None, help="final epochs (default 4x the search's, >= 10)"
    )
    retrain.add_argument(
        "--train-size", default=None, help="training images N or 'all' (default: the search's)"
    )
    retrain.add_argument(
        "--test-size", default=None, help="test images N or 'all' (default: the search's)"
    )
    retrain.add_argument(
        "--artifact-dir", default=None, help="where weights go (default: the search's)"
    )
    retrain.add_argument("--data-root", default=None, help="where datasets are (or go)")
    _machine_args(retrain)
    return parser


def _machine_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="plain log lines only")


def _storage_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--storage", default=DEFAULT_STORAGE, help=f"Optuna storage URL (default {DEFAULT_STORAGE})"
    )
    parser.add_argument(
        "--study-name", default=None, help="study name (search default: nas-<space>-<dataset>)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError, KeyError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"optuna-nas {args.command}: error: {message}", file=sys.stderr)
        return 2
    except Exception as exc:
        from optuna_nas.cli._worker import storage_lost

        message = storage_lost(exc, args)
        if message is None:
            raise
        print(f"optuna-nas {args.command}: error: {message}", file=sys.stderr)
        return 3


def _run(args: argparse.Namespace) -> int:
    if args.command == "search":
        from optuna_nas.cli._search import run_search

        return run_search(args)
    if args.command == "worker":
        from optuna_nas.cli._worker import run_worker_command

        return run_worker_command(args)
    if args.command == "dashboard":
        from optuna_nas.cli._dashboard import run_dashboard

        return run_dashboard(args)
    if args.command == "retrain":
        from optuna_nas.cli._retrain import run_retrain

        return run_retrain(args)
    from optuna_nas.cli._inspect import run_export, run_front

    return run_front(args) if args.command == "front" else run_export(args)


if __name__ == "__main__":
    sys.exit(main())
