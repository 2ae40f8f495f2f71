import os

from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import StepRecorder, choose_run, open_journal
from ansible_collections.fournines.runbooks.plugins.module_utils.report.journal import RunJournal


def make_run(reports, run_id, status, key, created):
    journal = RunJournal(str(reports), run_id, "upgrade-cluster")
    journal.state.update(status=status, created=created, facts={"key": key})
    journal.save()
    return journal


def test_choose_run_resumes_newest_unfinished_for_same_key(tmp_path):
    make_run(tmp_path, "r1", "running", "1", "2026-01-01T00:00:00Z")
    make_run(tmp_path, "r2", "failed", "1", "2026-01-02T00:00:00Z")
    make_run(tmp_path, "r3", "done", "1", "2026-01-03T00:00:00Z")
    make_run(tmp_path, "r4", "running", "2", "2026-01-04T00:00:00Z")
    assert choose_run(str(tmp_path), "upgrade-cluster", key="1") == ("r2", True)
    assert choose_run(str(tmp_path), "upgrade-cluster", key="2") == ("r4", True)
    run_id, resumed = choose_run(str(tmp_path), "upgrade-cluster", key="3")
    assert not resumed and run_id.startswith("upgrade-cluster-")
    assert choose_run(str(tmp_path), "upgrade-cluster", resume=False, key="1")[1] is False
    assert choose_run(str(tmp_path), "upgrade-cluster", run_id="r3") == ("r3", True)


def test_step_recorder(tmp_path):
    make_run(tmp_path, "r1", "running", "1", "2026-01-01T00:00:00Z")
    rec = StepRecorder(os.path.join(str(tmp_path), "r1"), "drain n1")
    rec.start(nodes=["n1"])
    rec.done(evicted=3)
    steps = open_journal(os.path.join(str(tmp_path), "r1")).state["steps"]
    assert steps[0]["name"] == "drain n1" and steps[0]["status"] == "done"
    assert steps[0]["details"] == {"nodes": ["n1"], "evicted": 3}


def test_step_recorder_check_mode_writes_nothing(tmp_path):
    make_run(tmp_path, "r1", "running", "1", "2026-01-01T00:00:00Z")
    rec = StepRecorder(os.path.join(str(tmp_path), "r1"), "drain n1", check_mode=True)
    rec.start()
    rec.done()
    assert open_journal(os.path.join(str(tmp_path), "r1")).state["steps"] == []


def test_progress_lines(tmp_path):
    make_run(tmp_path, "r1", "running", "1", "2026-01-01T00:00:00Z")
    rec = StepRecorder(os.path.join(str(tmp_path), "r1"), "recycle n1")
    rec.progress("waiting for n1 (10 s so far)")
    rec.progress("waiting for n1 (20 s so far)")
    with open(os.path.join(str(tmp_path), "r1", "progress.log")) as handle:
        lines = handle.read().splitlines()
    assert len(lines) == 2 and lines[1].endswith("recycle n1: waiting for n1 (20 s so far)")
    StepRecorder(os.path.join(str(tmp_path), "r1"), "x", check_mode=True).progress("nothing")
    with open(os.path.join(str(tmp_path), "r1", "progress.log")) as handle:
        assert len(handle.read().splitlines()) == 2
