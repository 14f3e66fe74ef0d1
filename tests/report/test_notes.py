import json
import re

from optuna.trial import TrialState, create_trial
from optuna_dashboard._note import get_note_from_system_attrs, save_note_with_version

from optuna_nas import NB201Space, create_study
from optuna_nas.report import save_study_report, save_trial_notes
from optuna_nas.storage import keys, storage_of, study_id, study_system_attrs, trial_id
from tests.report.conftest import TRAIN_SIZE

SPACE = NB201Space(channels=4, cells=1)


def _note(study, trial):
    return get_note_from_system_attrs(study_system_attrs(study), trial_id(trial))["body"]


def _png_height(data: bytes) -> int:
    assert data.startswith(b"\x89PNG")
    return int.from_bytes(data[20:24], "big")  # IHDR: width at 16, height at 20


def test_every_trial_of_a_search_gets_a_note_that_explains_it(lemonade_search):
    study, root = lemonade_search.study, lemonade_search.root
    save_study_report(study, lemonade_search.store)
    attrs, sid = study_system_attrs(study), study_id(study)
    heights = {}
    for trial in study.trials:
        note, user, system = _note(study, trial), trial.user_attrs, trial.system_attrs
        assert note.startswith(f"### Trial {trial.number}")
        # The cells picture: a PNG in the store, an artifact of the trial, shown in the note.
        (artifact_id,) = re.findall(rf"\]\(/artifacts/{sid}/{trial_id(trial)}/([0-9a-f-]+)\)", note)
        meta = json.loads(attrs[f"{keys.DASHBOARD_TRIAL_ARTIFACT}{trial_id(trial)}:{artifact_id}"])
        assert meta["mimetype"] == "image/png"
        heights[trial.number] = _png_height((root / artifact_id).read_bytes())
        assert f"`{user['arch_str']}`" in note
        assert f"| error | {trial.values[0]:.4g} |" in note
        assert f"| params | {int(trial.values[1]):,} |" in note
        assert f"| FLOPs | {user['flops']:,} |" in note
        assert f"| latency (ms) | {user['latency_ms']:.4g} |" in note
        assert f"- 1 epoch(s) on {TRAIN_SIZE:,} training images" in note
        parent = system.get(keys.PARENT_TRIAL)
        if parent is None:
            assert "child of" not in note and "Parent:" not in note
            continue
        link = f"[trial {parent}](/dashboard/studies/{sid}/trials?numbers={parent})"
        chain = " → ".join(f"`{op}`" for op in system[keys.OPERATOR].split("+"))
        assert f"child of {link} by {chain}" in note
        kind = "an approximate morphism" if system[keys.DISTILL] else "a network morphism"
        assert f"**Parent: trial {parent}**, by {kind}" in note
        for what, count in user["inheritance"].items():
            assert (f"{count} {what}" in note) == (count > 0)
        assert f"- validation accuracy {user['initial_val_accuracy']:.4g} at the start" in note
        if system[keys.DISTILL]:
            assert f"- validation accuracy {user['distill_val_accuracy']:.4g} after dist" in note
    children = [t.number for t in study.trials if keys.PARENT_TRIAL in t.system_attrs]
    roots = [t.number for t in study.trials if keys.PARENT_TRIAL not in t.system_attrs]
    assert children and roots
    # A child's picture shows its parent's cell beneath its own.
    assert min(heights[n] for n in children) > max(heights[n] for n in roots)


def test_notes_are_written_once_and_never_replace_a_persons_note():
    study = create_study(["error", "params"])
    first, second = SPACE.sample(0), SPACE.sample(1)
    study.add_trial(
        create_trial(values=[0.3, 100], user_attrs=keys.architecture_record(first, keys.FULL))
    )
    assert save_trial_notes(study) == [0]
    assert save_trial_notes(study) == []
    # What the dashboard's editor saves: the next version of the trial's note.
    (trial,) = study.trials
    save_note_with_version(storage_of(study), study_id(study), trial_id(trial), 2, "mine")
    running = study.ask()  # not finished: no note yet
    running.set_user_attr(keys.ARCH_JSON, second.to_json())
    lineage = {keys.PARENT_TRIAL: 0, keys.OPERATOR: "add_skip+cheapen", keys.DISTILL: False}
    record = keys.architecture_record(second, keys.FULL)
    study.add_trial(create_trial(values=[0.2, 200], system_attrs=lineage, user_attrs=record))
    failed = {**record, keys.FAIL_REASON: "diverged: loss is nan"}
    study.add_trial(create_trial(state=TrialState.FAIL, user_attrs=failed))
    study.add_trial(create_trial(values=[0.1, 50]))  # not ours: no architecture record
    assert save_trial_notes(study) == [2, 3]
    trials = study.trials
    assert _note(study, trials[0]) == "mine"
    assert _note(study, trials[1]) == ""
    child = _note(study, trials[2])
    assert "child of [trial 0]" in child and "by `add_skip` → `cheapen`" in child
    assert "**Parent: trial 0**, by a network morphism" in child
    assert "![" not in child  # no artifact store, no picture
    assert "**Failed**: diverged: loss is nan" in _note(study, trials[3])
    assert _note(study, trials[4]) == ""
