"""The progress callback shows lines appended to a followed file, also while a task still runs."""

import time
import types

from ansible_collections.fournines.runbooks.plugins.callback import progress


class FakeDisplay(object):
    verbosity = 0

    def __init__(self):
        self.lines = []

    def display(self, msg, *args, **kwargs):
        self.lines.append(msg)


def _callback(interval=0.2):
    display = FakeDisplay()
    callback = progress.CallbackModule(display=display)
    callback.interval = interval
    return callback, display


def _ok(result):
    return types.SimpleNamespace(_result=result)


def test_only_lines_written_after_the_file_is_named_are_shown(tmp_path):
    log = tmp_path / "progress.log"
    log.write_text("12:00:00 old: from an earlier attempt\n")
    callback, display = _callback()
    callback.v2_runner_on_ok(_ok({"changed": False, "progress_file": str(log)}))
    with log.open("a") as handle:
        handle.write("12:00:01 drain lke1-1-a: cordoned lke1-1-a\n12:00:02 drain lke1-1-a: waiting")
    assert callback.flush() == 1
    assert display.lines == ["  progress: 12:00:01 drain lke1-1-a: cordoned lke1-1-a"]
    with log.open("a") as handle:  # the half-written line is shown once it is complete
        handle.write(" for replacements\n")
    callback.flush()
    assert display.lines[-1] == "  progress: 12:00:02 drain lke1-1-a: waiting for replacements"
    callback.v2_playbook_on_stats(None)


def test_lines_appear_while_a_task_runs_without_any_event(tmp_path):
    log = tmp_path / "progress.log"  # not written yet when the journal names it
    callback, display = _callback(interval=0.2)
    callback.v2_runner_on_ok(_ok({"progress_file": str(log)}))
    log.write_text("12:00:05 recycle lke1-1-b: waiting for the replacement to be Ready\n")
    deadline = time.monotonic() + 5
    while not display.lines and time.monotonic() < deadline:
        time.sleep(0.05)
    assert display.lines == ["  progress: 12:00:05 recycle lke1-1-b: waiting for the replacement to be Ready"]
    callback.v2_playbook_on_stats(None)
    assert not callback._thread.is_alive() or callback._stop.is_set()


def test_results_without_a_progress_file_start_nothing(tmp_path):
    callback, display = _callback()
    callback.v2_runner_on_ok(_ok({"changed": True, "progress_file": None}))
    callback.v2_runner_on_ok(_ok({"changed": True}))
    assert callback._thread is None and callback.flush() == 0 and display.lines == []


def test_a_replaced_file_is_read_from_its_start(tmp_path):
    log = tmp_path / "progress.log"
    log.write_text("x" * 200 + "\n")
    callback, display = _callback()
    callback.follow(str(log))
    log.write_text("12:00:09 new run: started\n")  # shorter than what was seen
    callback.flush()
    assert display.lines == ["  progress: 12:00:09 new run: started"]
    callback.v2_playbook_on_stats(None)
