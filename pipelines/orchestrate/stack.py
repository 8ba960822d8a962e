"""``python -m pipelines orchestrate``: the Dagster webserver and daemon, started and stopped as one.

Not ``dagster dev``: measured here, it ignored SIGTERM for 60 s while runs were queued. Instead
three child processes share one process group that this process leads the shutdown of:

* ``dagster api grpc``: the one code location (the definitions module), loaded once in this
  process and shared by the webserver and the daemon through a workspace file (``dagster dev`` and
  ``dagster code-server start`` add a proxy process in front of it: ~100 MB more);
* ``dagster-webserver`` bound to 127.0.0.1 (the UI, never on another interface);
* ``dagster-daemon run``: schedules, sensors and the run queue (one run at a time).

SIGTERM or Ctrl-C sends SIGTERM to the group, waits ``[orchestrate] stop_timeout_seconds`` and
then SIGKILLs what is left: a run killed mid-load resumes at the next tick (the load's journal and
dlt's state), as after ``kill`` of ``make run``.

``DAGSTER_HOME`` is ``.dagster/`` at the repository root (git-ignored, ``MW_DAGSTER_HOME`` moves
it); ``dagster.yaml`` there is written by :func:`write_instance_config` on every start.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.paths import ROOT

DEFINITIONS_MODULE = "pipelines.orchestrate.definitions"

INSTANCE_YAML = """\
# Written by `python -m pipelines orchestrate` on every start (pipelines/orchestrate/stack.py);
# edit the code, not this file.
telemetry:
  enabled: false
concurrency:
  # One run at a time (the run queue): every job writes the one DuckDB warehouse, so a run that a
  # tick or a sensor requests while another runs waits in the queue.
  runs:
    max_concurrent_runs: 1
  # Steps that write the warehouse share the pool "warehouse": one at a time across all runs too.
  pools:
    default_limit: 1
# A run worker that died (machine restart, SIGKILL) is marked failed, so the queue moves on and
# the failure is notified.
run_monitoring:
  enabled: true
  poll_interval_seconds: 30
  start_timeout_seconds: 300
# Dagster's own event logs of old runs: keep 30 days.
retention:
  schedule:
    purge_after_days: 30
  sensor:
    purge_after_days:
      skipped: 7
      failure: 30
      success: 30
"""


def dagster_home() -> Path:
    value = os.environ.get("MW_DAGSTER_HOME")
    return Path(value).expanduser().resolve() if value else ROOT / ".dagster"


def write_instance_config(home: Path) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    path.write_text(INSTANCE_YAML, encoding="utf-8")
    return path


def init_storage(home: Path) -> None:
    """Create (or migrate) the instance's SQLite storage before the children start: three processes
    creating it at once race on its schema table (seen here: the webserver died on a UNIQUE error)."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        instance.get_runs(limit=1)


def preflight(home: str) -> None:
    """Check every ``[orchestrate]`` setting (one clear error), write ``dagster.yaml``, create the
    storage; print the settings the supervisor needs as one JSON line."""
    from pipelines.orchestrate.settings import OrchestrateSettingsError, load_settings

    try:
        settings = load_settings()
    except OrchestrateSettingsError as exc:
        print(str(exc), file=sys.stderr)
        raise SystemExit(2) from None
    write_instance_config(Path(home))
    init_storage(Path(home))
    print(json.dumps({"port": settings.port, "stop_timeout_seconds": settings.stop_timeout_seconds}))


def stack_env(home: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(home),
            "DAGSTER_DISABLE_TELEMETRY": "1",
            "DO_NOT_TRACK": "1",
            "DLT_PROJECT_DIR": str(ROOT),
            "RUNTIME__DLTHUB_TELEMETRY": "false",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bin(name: str) -> str:
    path = Path(sys.executable).with_name(name)
    return str(path) if path.exists() else name


@dataclass
class Stack:
    """The running processes; :meth:`stop` ends them all (SIGTERM to the group, then SIGKILL)."""

    home: Path
    port: int
    code_port: int
    stop_timeout: float = 10.0
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    log_dir: Path | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pgid(self) -> int | None:
        first = next(iter(self.procs.values()), None)
        return first.pid if first is not None else None

    def start(self, env: dict[str, str] | None = None, prepared: bool = False) -> Stack:
        """Start the three processes (``prepared``: :func:`preflight` wrote the config and storage)."""
        env = env or stack_env(self.home)
        if not prepared:
            write_instance_config(self.home)
            init_storage(self.home)
        workspace = self.home / "workspace.yaml"
        workspace.write_text(
            "load_from:\n"
            f"  - grpc_server:\n      host: 127.0.0.1\n      port: {self.code_port}\n"
            "      location_name: meetings-warehouse\n",
            encoding="utf-8",
        )
        commands = {
            "code-server": [
                _bin("dagster"),
                "api",
                "grpc",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.code_port),
                "-m",
                DEFINITIONS_MODULE,
                "--location-name",
                "meetings-warehouse",
            ],
            "webserver": [
                _bin("dagster-webserver"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-w",
                str(workspace),
            ],
            "daemon": [_bin("dagster-daemon"), "run", "-w", str(workspace)],
        }
        self.log_dir = self.log_dir or self.home / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name, command in commands.items():
            log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child
            # one process group for the three (the first one leads it): one signal reaches them all,
            # and the run workers they start, and none of them gets the terminal's Ctrl-C directly
            proc = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                process_group=0 if self.pgid is None else self.pgid,
            )
            self.procs[name] = proc
            if name == "code-server":
                # the daemon and the webserver find the code location at once: a daemon that starts
                # first backs off before it retries, and its schedules miss their first minute
                self._wait_for_code_server()
        return self

    def _wait_for_code_server(self, timeout: float = 180.0) -> None:
        deadline = time.monotonic() + timeout
        proc = self.procs["code-server"]
        while time.monotonic() < deadline and proc.poll() is None:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.code_port), timeout=1),
            ):
                return
            time.sleep(0.2)

    def wait_ready(self, timeout: float = 180.0) -> bool:
        """True once the webserver answers (and its code location has loaded)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"dagster {name} exited with {proc.returncode}; see {self.log_dir}/{name}.log"
                    )
            try:
                with urllib.request.urlopen(f"{self.url}/server_info", timeout=2) as resp:
                    if resp.status == 200:
                        return True
            except OSError:
                pass
            time.sleep(0.5)
        return False

    def alive(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is None]

    def stop(self) -> float:
        """SIGTERM to the group, SIGKILL after the grace period; seconds it took."""
        started = time.monotonic()
        pgid = self.pgid
        if pgid is None:
            return 0.0
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGTERM)
        deadline = started + self.stop_timeout
        while time.monotonic() < deadline and self.alive():
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)  # what ignored SIGTERM, and run workers they left behind
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
        return time.monotonic() - started


def run_stack(port: int | None = None) -> int:
    """Start the stack, print where to open it, supervise until SIGTERM/Ctrl-C or a child exits."""
    home = dagster_home()
    # settings, dagster.yaml and the storage in a child process: this supervisor then holds neither
    # dlt nor dagster in memory while it waits (~30 MB instead of ~160 MB)
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from pipelines.orchestrate.stack import preflight; preflight({str(home)!r})",
        ],
        cwd=ROOT,
        env=stack_env(home),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        print(
            f"orchestrate not started: {lines[-1] if lines else f'exit {done.returncode}'}", file=sys.stderr
        )
        return 2
    settings = json.loads(done.stdout.strip().splitlines()[-1])
    stack = Stack(
        home=home,
        port=(port if port is not None else settings["port"]) or free_port(),  # 0: any free port
        code_port=free_port(),
        stop_timeout=settings["stop_timeout_seconds"],
    )
    stack.start(prepared=True)
    print(f"Dagster is starting (DAGSTER_HOME={home}, logs in {stack.log_dir})", flush=True)
    try:
        if not stack.wait_ready():
            print("the webserver did not answer in time; see the logs", file=sys.stderr)
        else:
            print(
                f"open {stack.url}  (schedules, sensors and runs; Ctrl-C or SIGTERM stops everything)",
                flush=True,
            )
        while True:
            gone = [name for name, proc in stack.procs.items() if proc.poll() is not None]
            if gone:
                print(
                    f"dagster {', '.join(gone)} exited; stopping the rest (logs: {stack.log_dir})",
                    file=sys.stderr,
                )
                return 1
            time.sleep(1.0)
    except KeyboardInterrupt as exc:
        from pipelines import interrupt

        code = interrupt.exit_code(exc)
        took = stack.stop()
        print(f"Dagster stopped ({interrupt.signal_name(code)}) in {took:.1f} s", flush=True)
        return 0
    finally:
        stack.stop()
