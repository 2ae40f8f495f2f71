"""common/background.py: detached helpers that outlive the task that started them, run for real
(a forked helper in its own session, stopped by SIGTERM through its handle)."""

import json
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.fournines.runbooks.plugins.module_utils.common import background


def wait_for(predicate, seconds=10.0):
    end = time.time() + seconds
    while time.time() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_handle_round_trip_is_atomic(tmp_path):
    assert background.read_handle(str(tmp_path), "h.json") is None
    background.write_handle(str(tmp_path), "h.json", {"pid": 12, "dir": str(tmp_path), "url": "http://x"})
    assert background.read_handle(str(tmp_path), "h.json") == {"pid": 12, "dir": str(tmp_path), "url": "http://x"}
    assert sorted(os.listdir(str(tmp_path))) == ["h.json"]  # no temp file left behind


def test_prepare_creates_the_directory_and_clears_an_old_stopped_marker(tmp_path):
    directory = str(tmp_path / "helper")
    background.prepare(directory)
    background.mark_stopped(directory)
    assert os.path.exists(os.path.join(directory, background.STOPPED))
    background.prepare(directory)
    assert os.listdir(directory) == []


def helper_main(directory):
    """What a helper does: mark itself, loop until asked to stop, then say it stopped."""
    def main():
        background.redirect_output(os.path.join(directory, "log"))
        stopped = background.stop_flag()
        with open(os.path.join(directory, "started"), "w") as handle:
            handle.write(str(os.getpid()))
        while not stopped():
            background.sleep_until(time.time() + 0.2, stopped)
        os.write(1, b"bye\n")  # fd 1 is the log now
        background.mark_stopped(directory)
    return main


def test_spawned_helper_runs_detached_and_stops_on_terminate(tmp_path):
    directory = str(tmp_path)
    background.prepare(directory)
    pid = background.spawn(helper_main(directory))
    handle = {"pid": pid, "dir": directory}
    try:
        assert wait_for(lambda: os.path.exists(os.path.join(directory, "started")))
        assert int(open(os.path.join(directory, "started")).read()) == pid
        assert os.getsid(pid) != os.getsid(0)  # its own session: the task ending does not end it
        assert background.is_running(handle)
        assert background.terminate(directory, handle) is True
        assert os.path.exists(os.path.join(directory, background.STOPPED))
        assert not background.is_running(handle)
        assert "bye" in open(os.path.join(directory, "log")).read()  # it ended between rounds, cleanly
        assert background.terminate(directory, handle) is False
    finally:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


class NotStarted(Exception):
    pass


def test_stop_ends_a_running_helper_once_and_refuses_a_directory_where_none_was_started(tmp_path):
    directory = str(tmp_path)
    with pytest.raises(NotStarted):
        background.stop(directory, "h.json", lambda d: {}, NotStarted("none in %s" % directory))
    background.prepare(directory)
    pid = background.spawn(helper_main(directory))
    background.write_handle(directory, "h.json", {"pid": pid, "dir": directory})
    summary = lambda d: {"dir": d, "stopped": os.path.exists(os.path.join(d, background.STOPPED))}  # noqa: E731
    try:
        assert wait_for(lambda: os.path.exists(os.path.join(directory, "started")))
        assert background.stop(directory, "h.json", summary, NotStarted()) == {
            "dir": directory, "stopped": True, "was_running": True}
        assert background.stop(directory, "h.json", summary, NotStarted())["was_running"] is False
    finally:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def test_is_running_is_false_for_a_dead_or_recycled_pid(tmp_path):
    assert not background.is_running({"pid": 0, "dir": str(tmp_path)})
    other = subprocess.Popen(["sleep", "30"])  # alive, but not a python helper
    try:
        assert not background.is_running({"pid": other.pid, "dir": str(tmp_path)})
    finally:
        other.kill()
        other.wait()
    assert not background.is_running({"pid": other.pid, "dir": str(tmp_path)})


def test_is_running_is_false_once_the_helper_marked_itself_stopped(tmp_path):
    background.mark_stopped(str(tmp_path))
    assert not background.is_running({"pid": os.getpid(), "dir": str(tmp_path)})


def test_sleep_until_returns_early_on_a_stop():
    start = time.time()
    background.sleep_until(start + 30, lambda: time.time() > start + 0.1)
    assert time.time() - start < 5
    start = time.time()
    background.sleep_until(start + 0.1, lambda: False)
    assert time.time() - start >= 0.1


def test_read_jsonl_skips_a_line_cut_short_by_a_kill(tmp_path):
    path = tmp_path / "out.jsonl"
    assert background.read_jsonl(str(path)) == []
    path.write_text(json.dumps({"t": 1}) + "\n\n" + json.dumps({"t": 2}) + "\n" + '{"t": 3, "ok"')
    assert background.read_jsonl(str(path)) == [{"t": 1}, {"t": 2}]


@pytest.mark.parametrize("log", [True, False])
def test_redirect_output_detaches_the_standard_streams(tmp_path, log):
    code = ("import sys; sys.path[:0] = %r; "
            "from ansible_collections.fournines.runbooks.plugins.module_utils.common import background as b; "
            "b.redirect_output(%r); print('to the log'); import os; os.write(2, b'err\\n')"
            % (sys.path, str(tmp_path / "log") if log else None))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout == "" and out.stderr == ""
    if log:
        text = (tmp_path / "log").read_text()
        assert "to the log" in text and "err" in text
