"""``python -m pipelines orchestrate`` for real: a code server, the webserver on 127.0.0.1 and
``dagster-daemon`` run a scheduled tick (the doctor, on a one-minute cron) end to end through the
run queue, and SIGTERM stops the whole stack within seconds."""

from __future__ import annotations

import logging
import re
import signal
import time
import urllib.request

import dagster as dg

RUN_TIMEOUT = 240


def test_a_scheduled_tick_runs_under_the_daemon_then_sigterm_stops_everything(dagster_stack) -> None:
    stack = dagster_stack
    deadline = time.monotonic() + RUN_TIMEOUT
    url = None
    while url is None and time.monotonic() < deadline and stack.proc.poll() is None:
        found = re.search(r"open (http://127\.0\.0\.1:\d+)", stack.output())
        url = found.group(1) if found else None
        time.sleep(0.5)
    assert url, stack.output()
    with urllib.request.urlopen(f"{url}/server_info", timeout=10) as resp:
        assert resp.status == 200
    config = (stack.home / "dagster.yaml").read_text()
    assert "telemetry:\n  enabled: false" in config and "max_concurrent_runs: 1" in config

    # the doctor's schedule ticks at the next minute; the daemon launches the run through the queue
    run = None
    with dg.DagsterInstance.from_config(str(stack.home)) as instance:
        while time.monotonic() < deadline:
            runs = instance.get_runs(
                dg.RunsFilter(job_name="doctor", tags={"dagster/schedule_name": "doctor_daily"})
            )
            if runs and runs[-1].is_finished:
                run = runs[-1]
                break
            time.sleep(1)
        assert run is not None, stack.output()
        logs = instance.all_logs(run.run_id)
        errors = [e.user_message for e in logs if e.level >= logging.ERROR]
        assert run.status == dg.DagsterRunStatus.SUCCESS, (run.status, errors[-3:])
        assert any("doctor_check" in (e.step_key or "") for e in logs)
        assert len(runs) == 1 or len({r.tags["dagster/run_key"] for r in runs}) == len(
            runs
        )  # no tick ran twice

    pids = stack.processes()
    assert len(pids) >= 3  # code server (+ its worker), webserver, daemon
    started = time.monotonic()
    stack.proc.send_signal(signal.SIGTERM)
    code = stack.proc.wait(timeout=30)
    while stack.processes() and time.monotonic() - started < 30:
        time.sleep(0.1)
    took = time.monotonic() - started
    assert code == 0 and "Dagster stopped (SIGTERM)" in stack.output()
    assert stack.processes() == []
    assert took < 15  # within the 5 s grace (then SIGKILL) plus the process exits
