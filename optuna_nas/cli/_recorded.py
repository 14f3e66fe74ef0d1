"""What ``optuna-nas search`` recorded, read back so that no verb makes the user repeat it.

A search stores its options in the study user attr ``nas:search`` (space, dataset,
split, artifact directory, sampler, ...). ``worker``, ``export``, ``retrain`` and
``dashboard`` take them from there, a resumed ``search`` keeps them unless they are
given again, and every message for what cannot be found names the flag to pass.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from typing import Any

import optuna

from optuna_nas.storage import keys
from optuna_nas.workers import hide_password, storage_from_url

_OURS = (keys.SEARCH_SETTINGS, keys.STUDY_SPACE)
_RAN = tuple(s for s in optuna.trial.TrialState if s != optuna.trial.TrialState.WAITING)
"""Study user attrs only optuna-nas writes: a study without either is a plain Optuna one."""


def given_options(parser: argparse.ArgumentParser, argv: Sequence[str]) -> set[str]:
    """The options ``argv`` gives explicitly (their ``dest``), defaults left out."""
    for action in _actions(parser):
        if action.dest not in ("help", "command"):
            action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv))) - {"command"}


def _actions(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    found = []
    for action in parser._actions:  # argparse keeps its actions here and nowhere public
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found += _actions(sub)
        else:
            found.append(action)
    return found


def open_existing_storage(
    url: str, study_name: str | None = None, **kwargs: Any
) -> optuna.storages.BaseStorage:
    """The storage of a search that ran: an SQLite file that does not exist is not created."""
    shown = hide_password(url)
    study = "" if study_name is None else f" {study_name!r}"
    if url.lower().startswith("sqlite:"):
        from sqlalchemy.engine import make_url

        path = make_url(url).database
        if path not in (None, "", ":memory:") and not os.path.isfile(path):
            raise ValueError(
                f"no study{study} in {shown}: the file {path!r} does not exist; pass the "
                "--storage the search used."
            )
    return storage_from_url(url, **kwargs)


def is_ours(study: optuna.Study) -> bool:
    """Whether optuna-nas (the CLI or :class:`~optuna_nas.NASObjective`) made ``study``."""
    return any(key in study.user_attrs for key in _OURS)


def search_settings(study: optuna.Study, verb: str) -> dict[str, Any]:
    """The options ``optuna-nas search`` recorded; a clear error for any other study."""
    settings = study.user_attrs.get(keys.SEARCH_SETTINGS)
    if settings is None:
        kind = "a plain Optuna study" if not is_ours(study) else "searched from Python"
        raise ValueError(
            f"study {study.study_name!r} ({kind}) was not started by 'optuna-nas search', so its "
            f"training settings are unknown; 'optuna-nas {verb}' needs a study of 'optuna-nas "
            "search' (from Python, run workers with optuna_nas.workers.run_worker)."
        )
    if verb == "worker" and settings.get("sampler") == "tnd":
        raise ValueError(
            f"study {study.study_name!r} is a TND-NAS search (--sampler tnd), which one process "
            "drives: 'optuna-nas worker' does not apply; draw from its α with "
            "optuna_nas.tnd.TNDSampler in Python."
        )
    return settings


def require_ours(study: optuna.Study, verb: str) -> None:
    """A clear error if ``study`` holds no optuna-nas trials (no architecture, no data)."""
    if not is_ours(study):
        raise ValueError(
            f"study {study.study_name!r} is a plain Optuna study (no {keys.SEARCH_SETTINGS!r} or "
            f"{keys.STUDY_SPACE!r} attrs): 'optuna-nas {verb}' needs a study searched with "
            "optuna-nas; pass its --study-name."
        )


def artifact_dir(study: optuna.Study, given: str | None) -> str:
    """Where ``study``'s weights are: ``--artifact-dir``, else the recorded one, else ./artifacts."""
    if given is not None:
        return given
    recorded = (study.user_attrs.get(keys.SEARCH_SETTINGS) or {}).get("artifact_dir")
    if recorded is not None:
        if not os.path.isdir(recorded):
            raise ValueError(
                f"study {study.study_name!r} keeps its weights in {recorded!r} (recorded by the "
                "search), which does not exist on this machine; pass --artifact-dir DIR."
            )
        return recorded
    if os.path.isdir("artifacts"):
        return "artifacts"
    raise ValueError(
        f"study {study.study_name!r} records no artifact directory (it was not started by "
        "'optuna-nas search') and there is no ./artifacts; pass --artifact-dir DIR."
    )


def recorded_artifact_dirs(storage: optuna.storages.BaseStorage) -> list[str]:
    """The distinct artifact directories the storage's searches recorded, in study order."""
    dirs: list[str] = []
    for summary in optuna.get_all_study_summaries(storage):
        directory = (summary.user_attrs.get(keys.SEARCH_SETTINGS) or {}).get("artifact_dir")
        if directory is not None and directory not in dirs:
            dirs.append(directory)
    return dirs


def recall_settings(
    args: argparse.Namespace, storage: optuna.storages.BaseStorage, study_name: str
) -> bool:
    """A resumed search: take the options it recorded that are not given again.

    ``args.given`` holds the options given on the command line (all, if absent).
    Refuses to search a plain Optuna study that already ran trials. Returns whether
    a storage option (heartbeat, grace period, retries) changed, so the caller reopens.
    """
    try:
        study_id = storage.get_study_id_from_name(study_name)
    except KeyError:
        return False  # a new study
    attrs = storage.get_study_user_attrs(study_id)
    settings = attrs.get(keys.SEARCH_SETTINGS)
    if settings is None:
        # Queued trials alone (``enqueue_trial``) are architectures for the search to run.
        if not any(key in attrs for key in _OURS) and storage.get_all_trials(
            study_id, deepcopy=False, states=_RAN
        ):
            raise ValueError(
                f"study {study_name!r} in {hide_password(args.storage)} is a plain Optuna study "
                "with trials of its own; pass another --study-name for the search."
            )
        return False
    given = getattr(args, "given", None)
    if given is None:
        return False
    changed = False
    for key, value in settings.items():
        if key not in given and hasattr(args, key) and getattr(args, key) != value:
            setattr(args, key, value)
            changed |= key in ("heartbeat_interval", "grace_period", "max_retry")
    return changed
