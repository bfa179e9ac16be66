"""The process supervisor of `refundbot run`: restarts with back-off, readiness, stopping."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.processes import read_status
from bot.supervisor import Backoff
from tests.supervising import Supervisor, alive, wait_until


@pytest.fixture
def supervisors() -> Iterator[list[Supervisor]]:
    started: list[Supervisor] = []
    yield started
    for supervisor in started:
        supervisor.stop()
        for name in supervisor.control:
            for pid in supervisor.pids(name):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first_seconds=1, max_seconds=60)
    assert [backoff.delay(n) for n in range(1, 9)] == [1, 2, 4, 8, 16, 32, 60, 60]


def test_a_killed_service_is_restarted_with_backoff_while_the_others_keep_running(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    run = Supervisor(tmp_path, ["actions", "rasa", "gateway"], backoff=(0.25, 1.0, 60.0))
    supervisors.append(run)
    run.wait_ready()
    status = run.status()
    assert {name: s["state"] for name, s in status.items()} == dict.fromkeys(status, "up")
    before = {name: status[name]["pid"] for name in status}
    assert before == {name: run.pids(name)[0] for name in status}

    # Rasa dies, and its next three starts crash: each wait doubles, up to the cap.
    (run.control["rasa"] / "crash").touch()
    os.kill(before["rasa"], signal.SIGKILL)
    wait_until(lambda: "restart attempt 4 in 1 s" in run.err())
    restarting = run.status()["rasa"]
    assert restarting["state"] == "restarting"
    assert restarting["pid"] is None
    assert restarting["last_exit"]["returncode"] == 3
    assert restarting["last_exit"]["reason"] == "exited with code 3"
    assert restarting["next_start_at"] is not None
    (run.control["rasa"] / "crash").unlink()
    # The supervisor writes the state, then says so: wait for both.
    wait_until(lambda: run.state("rasa") == "up" and "rasa is up again" in run.err())

    err = run.err()
    assert f"rasa (pid {before['rasa']}) killed by SIGKILL" in err
    for attempt, delay in [(1, "0.25"), (2, "0.5"), (3, "1"), (4, "1")]:
        assert f"restart attempt {attempt} in {delay} s" in err
    assert "rasa is up again" in err
    assert "did not become ready" not in err
    after = run.status()
    assert after["rasa"]["restarts"] == 4
    assert after["rasa"]["pid"] == run.pids("rasa")[-1] != before["rasa"]
    assert alive(after["rasa"]["pid"])
    for name in ("actions", "gateway"):
        assert after[name]["pid"] == before[name]
        assert after[name]["restarts"] == 0
        assert alive(before[name])
    assert run.process.poll() is None

    assert run.stop() == 0
    assert not any(alive(pid) for name in run.control for pid in run.pids(name))
    assert read_status(run.var_dir) is None


def test_backoff_starts_over_once_a_service_has_stayed_up(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    run = Supervisor(tmp_path, ["rasa"], backoff=(0.25, 10.0, 2.0))
    supervisors.append(run)
    run.wait_ready()

    def kill_and_wait_up(restarts: int) -> None:
        os.kill(run.status()["rasa"]["pid"], signal.SIGKILL)
        wait_until(lambda: run.status()["rasa"]["restarts"] == restarts)
        wait_until(lambda: run.state("rasa") == "up")

    kill_and_wait_up(1)
    kill_and_wait_up(2)  # up for less than 2 s: the wait doubles
    time.sleep(2.5)
    kill_and_wait_up(3)  # up for longer: back to the first wait
    attempts = re.findall(r"restart attempt (\d+) in ([\d.]+) s", run.err())
    assert attempts == [("1", "0.25"), ("2", "0.5"), ("1", "0.25")]


@pytest.mark.parametrize(
    ("marker", "reason"),
    [("crash", "exited with code 3"), ("hang", "not ready within 3 s")],
)
def test_a_service_that_never_becomes_ready_ends_the_run_with_its_log(
    tmp_path: Path, supervisors: list[Supervisor], marker: str, reason: str
) -> None:
    run = Supervisor(
        tmp_path,
        ["actions", "rasa", "gateway"],
        startup_timeout=3,
        prepare=lambda s: (s.control["rasa"] / marker).touch(),
    )
    supervisors.append(run)
    assert run.process.wait(timeout=60) == 1
    err = run.err()
    assert f"refundbot: rasa did not become ready: {reason}." in err
    assert f"last lines of {run.var_dir / 'log' / 'rasa.log'}:" in err
    assert "fake service" in err.split("did not become ready")[1]
    assert "restart" not in err
    assert run.pids("gateway") == []
    assert not any(alive(pid) for name in ("actions", "rasa") for pid in run.pids(name))


def test_sigterm_stops_every_service_also_one_being_restarted(
    tmp_path: Path, supervisors: list[Supervisor]
) -> None:
    run = Supervisor(tmp_path, ["actions", "rasa"], backoff=(0.1, 1.0, 60.0))
    supervisors.append(run)
    run.wait_ready()
    (run.control["rasa"] / "hang").touch()
    os.kill(run.status()["rasa"]["pid"], signal.SIGKILL)
    wait_until(lambda: run.status()["rasa"]["restarts"] == 1)
    assert run.state("rasa") == "starting"
    restarted = run.status()["rasa"]["pid"]
    assert alive(restarted)

    assert run.stop() == 0
    assert not alive(restarted)
    assert not any(alive(pid) for name in run.control for pid in run.pids(name))
