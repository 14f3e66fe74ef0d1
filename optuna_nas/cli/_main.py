"""``optuna-nas``: search, add workers, show the Pareto front, open the dashboard, export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from optuna_nas.cli import _checks as check
from optuna_nas.workers import MAX_TRIALS_PER_GPU, check_ray_address

DEFAULT_STORAGE = "sqlite:///optuna_nas.db"


class _Parser(argparse.ArgumentParser):
    """Bad input is one line on stderr, naming the flag, the value and the valid range."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="optuna-nas", description="Multi-objective neural architecture search on Optuna."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    _search_verb(sub.add_parser("search", help="run (or resume) a search"))
    _worker_verb(
        sub.add_parser(
            "worker", help="join a running search as one more worker (same study, any machine)"
        )
    )
    dashboard = sub.add_parser("dashboard", help="open optuna-dashboard on 127.0.0.1")
    _storage_args(dashboard, study=False)
    _artifact_dir_arg(
        dashboard,
        "where trial weights are (default: the searches', else ./artifacts)",
        existing=True,
    )
    dashboard.add_argument("--port", type=check.port, default=8080)
    _storage_args(sub.add_parser("front", help="print the Pareto front of a study"))
    _export_verb(sub.add_parser("export", help="export a trial's model"))
    _retrain_verb(
        sub.add_parser(
            "retrain", help="train chosen trials from scratch with the full budget (final training)"
        )
    )
    return parser


def _search_verb(search: argparse.ArgumentParser) -> None:
    search.add_argument("--space", choices=["nb201", "darts"], default="nb201")
    search.add_argument(
        "--dataset",
        default="fashion-mnist",
        help="a registered dataset name, or imagefolder:DIR for your own images (one folder per "
        "class; DIR/train and DIR/test when present)",
    )
    search.add_argument(
        "--image-size",
        type=check.int_in(8, 4096),
        default=None,
        help="resize imagefolder images to this many pixels square (default: their own size)",
    )
    _data_root_arg(search)
    search.add_argument(
        "--objectives",
        type=check.str_list,
        default=["error", "params"],
        help="comma-separated registered objectives (default error,params)",
    )
    search.add_argument(
        "--sampler",
        default="lemonade",
        # optuna_nas.samplers.SAMPLER_NAMES, spelled out: importing it loads torch for --help
        choices=("lemonade", "nao", "tnd", "random", "tpe", "nsga2"),
        help="lemonade (default), nao, tnd, or Optuna's random, tpe, nsga2 (tnd: TND-NAS supernet "
        "search, then --n-trials derived architectures trained in full; --epochs per search stage "
        "and per trial)",
    )
    search.add_argument(
        "--n-trials",
        type=check.trials,
        default=20,
        help="finished trials the study should have (resuming counts old ones)",
    )
    search.add_argument(
        "--n-initial",
        type=check.trials,
        default=None,
        help="random trials before tpe, lemonade or nao start (default: n-trials / 4, at least "
        "4, at most the sampler's own 10-20); nsga2: its population (default 8)",
    )
    _timeout_arg(search)
    search.add_argument("--epochs", type=check.epochs, default=3)
    search.add_argument("--batch-size", type=check.int_in(1, 65536), default=256)
    search.add_argument("--lr", type=check.positive_float(10.0), default=0.08)
    search.add_argument(
        "--channels",
        type=check.int_list(1, 4096),
        default=None,
        help="allowed first-stage channels, e.g. 8,16 (default: the space's)",
    )
    search.add_argument(
        "--cells",
        type=check.int_list(1, 64),
        default=None,
        help="allowed cells per stage, e.g. 1,2 (default: the space's)",
    )
    search.add_argument(
        "--nodes", type=check.int_in(1, 32), default=4, help="DARTS intermediate nodes"
    )
    search.add_argument(
        "--train-size", type=check.positive_int, default=None, help="use this many train images"
    )
    search.add_argument(
        "--val-size",
        type=check.count_or_fraction,
        default=0.1,
        help="validation images: a count, or a fraction like 0.1 (default)",
    )
    search.add_argument(
        "--test-size", type=check.positive_int, default=None, help="use this many test images"
    )
    _storage_args(search)
    _artifact_dir_arg(search, "where trial weights go (shared by workers)", default="artifacts")
    search.add_argument("--seed", type=check.seed, default=0)
    _parallel_args(search)
    _fault_args(search)
    _machine_args(search)


def _worker_verb(worker: argparse.ArgumentParser) -> None:
    _storage_args(worker)
    _artifact_dir_arg(worker, "where trial weights go (default: the search's)")
    _data_root_arg(worker)
    worker.add_argument(
        "--seed",
        type=check.seed,
        default=None,
        help="seed of this worker's sampler (default random)",
    )
    _timeout_arg(worker)
    _machine_args(worker)


def _export_verb(export: argparse.ArgumentParser) -> None:
    _storage_args(export)
    export.add_argument("--trial", type=check.non_negative_int, required=True, help="trial number")
    export.add_argument("--out", type=check.output_dir, required=True, help="output directory")
    _artifact_dir_arg(
        export, "where the weights are (default: the search's, else ./artifacts)", existing=True
    )
    export.add_argument(
        "--weights",
        choices=["auto", "final", "search"],
        default="auto",
        help="final: the 'retrain' weights; search: the search's; auto (default): final if retrained",
    )


def _retrain_verb(retrain: argparse.ArgumentParser) -> None:
    _storage_args(retrain)
    retrain.add_argument(
        "--trials",
        type=check.int_list(0),
        default=None,
        help="comma-separated trial numbers, e.g. 3,5 (default: the Pareto front of fully "
        "trained trials)",
    )
    retrain.add_argument(
        "--epochs",
        type=check.epochs,
        default=None,
        help="final epochs (default 4x the search's, >= 10)",
    )
    retrain.add_argument(
        "--train-size",
        type=check.count_or_all,
        default=None,
        help="training images N or 'all' (default: the search's)",
    )
    retrain.add_argument(
        "--test-size",
        type=check.count_or_all,
        default=None,
        help="test images N or 'all' (default: the search's)",
    )
    _artifact_dir_arg(retrain, "where weights go (default: the search's)")
    _data_root_arg(retrain)
    _machine_args(retrain)


# ---------------------------------------------------------------- shared by several verbs
def _storage_args(parser: argparse.ArgumentParser, study: bool = True) -> None:
    parser.add_argument(
        "--storage",
        type=check.storage_url,
        default=DEFAULT_STORAGE,
        help=f"Optuna storage URL (default {DEFAULT_STORAGE})",
    )
    if study:
        parser.add_argument(
            "--study-name",
            type=check.name,
            default=None,
            help="study name (search default: nas-<space>-<dataset>)",
        )


def _artifact_dir_arg(
    parser: argparse.ArgumentParser, help: str, existing: bool = False, default: str | None = None
) -> None:
    """Verbs that read weights need the directory to exist; those that write create it."""
    kind = check.existing_dir if existing else check.output_dir
    parser.add_argument("--artifact-dir", type=kind, default=default, help=help)


def _data_root_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-root", type=check.directory, default=None, help="where datasets are (or go)"
    )


def _timeout_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--timeout", type=check.timeout, default=None, help="seconds for this run")


def _machine_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--threads", type=check.threads, default=None, help="torch CPU threads")
    parser.add_argument("--no-progress", action="store_true", help="plain log lines only")


def _parallel_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workers",
        type=check.threads,
        default=1,
        help="worker processes on this machine (default 1)",
    )
    parser.add_argument(
        "--trials-per-gpu",
        type=check.int_in(1, MAX_TRIALS_PER_GPU),
        default=None,
        help="workers that share one GPU, for small networks (default: the workers spread "
        "evenly over the visible GPUs; CUDA_VISIBLE_DEVICES is respected)",
    )
    parser.add_argument(
        "--cluster",
        type=_cluster_address,
        default=None,
        metavar="ADDRESS",
        help="run the --workers as tasks of the Ray cluster at ADDRESS (auto, HEAD:PORT or "
        "ray://HEAD:PORT), one GPU each when it has GPUs; needs a storage every machine "
        "reaches and a shared --artifact-dir",
    )


def _fault_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--heartbeat-interval",
        type=check.seconds,
        default=60,
        help="seconds between a running trial's heartbeats (default 60)",
    )
    parser.add_argument(
        "--grace-period",
        type=check.seconds,
        default=None,
        help="seconds without a heartbeat before a trial fails and is retried (default 2x)",
    )
    parser.add_argument(
        "--max-retry",
        type=check.int_in(0, 1000),
        default=3,
        help="retries of a trial whose worker died",
    )


def _cluster_address(text: str) -> str:
    try:
        return check_ray_address(text)
    except ValueError as exc:  # argparse shows an ArgumentTypeError's own message
        raise argparse.ArgumentTypeError(str(exc)) from None


def main(argv: Sequence[str] | None = None) -> int:
    """``optuna-nas ARGV``: 0 on success, 1 when every trial of a search failed, 2 for bad input
    (one line on stderr), 3 storage lost."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or bad input: argparse printed the one line
        return exc.code if isinstance(exc.code, int) else 2
    from optuna_nas.cli._recorded import given_options

    args.given = given_options(build_parser(), argv)  # a resumed search keeps the rest
    try:
        return _run(args)
    except (ValueError, KeyError) as exc:
        _say(args, exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
        return 2
    except OSError as exc:  # a path that cannot be read or written
        reason = exc.strerror or str(exc) or type(exc).__name__
        _say(args, f"{reason}: {exc.filename!r}" if exc.filename else reason)
        return 2
    except Exception as exc:
        from optuna_nas.cli._worker import storage_lost

        message = storage_lost(exc, args)
        if message is None:
            raise
        _say(args, message)
        return 3


def _say(args: argparse.Namespace, message: object) -> None:
    """One line on stderr, whatever the message's own line breaks."""
    text = " ".join(line.strip() for line in str(message).splitlines() if line.strip())
    print(f"optuna-nas {args.command}: error: {text}", file=sys.stderr)


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
    from optuna_nas.cli._export import run_export
    from optuna_nas.cli._inspect import run_front

    return run_front(args) if args.command == "front" else run_export(args)


if __name__ == "__main__":
    sys.exit(main())
