"""A small process supervisor for the container: start in order, restart on death, give up loudly.

Policy (the README and the Dockerfile say the same):

- Programs start one after the other; each must answer its readiness probe before the next
  starts, so nginx never routes to a backend that is not listening yet.
- A program that dies is restarted in place (its whole process group is killed first, so a
  Gunicorn master's orphaned workers cannot keep its port), after a back-off that doubles from
  0.5 s. A program that dies during its first start is fatal; during a restart it is one more death.
- A program that dies more than `max_restarts` times within `window` seconds is crash-looping:
  every program is stopped and the supervisor exits 1, so the platform shows the failure and
  restarts the container instead of leaving a UI up in front of a dead API.
- SIGTERM/SIGINT stop the programs in reverse order and exit 0.

As PID 1 in a container it also reaps orphans (any child, not only its own programs).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

Probe = Callable[[], bool]


@dataclass
class Program:
    """One long-running child: a command, its environment, and how to tell it is ready."""

    name: str
    command: Sequence[str]
    ready: Probe | None = None
    port: int | None = None  # checked free before each start, so a stranger cannot pass for it
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: str | None = None
    start_timeout: float = 60.0
    # Its stdout is a pipe the supervisor copies to its own. For a program that opens /dev/stdout
    # by name (nginx's access log): the container's stdout may be a socket or belong to root,
    # which uid 1000 cannot open, while a pipe the supervisor created always reopens.
    pipe_stdout: bool = False
    process: subprocess.Popen | None = field(default=None, repr=False)
    deaths: deque = field(default_factory=deque, repr=False)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None


class GiveUp(Exception):
    """A program could not be (re)started; the whole container should go."""


class DiedStarting(GiveUp):
    """The program exited before it was ready: fatal at first start, one more death on restart."""


class Supervisor:
    def __init__(
        self,
        programs: Sequence[Program],
        run_dir: Path,
        max_restarts: int = 3,
        window: float = 300.0,
        backoff: float = 0.5,
        stop_timeout: float = 20.0,
    ):
        self.programs = list(programs)
        self.run_dir = Path(run_dir)
        self.max_restarts = max_restarts
        self.window = window
        self.backoff = backoff
        self.stop_timeout = stop_timeout
        self._stopping = False

    def run(self) -> int:
        """Start everything, watch until told to stop; the exit code for the container."""
        signal.signal(signal.SIGTERM, self._request_stop)
        signal.signal(signal.SIGINT, self._request_stop)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        try:
            for program in self.programs:
                if self._stopping:
                    break
                self._start(program)
            else:
                logger.info("all programs ready: %s", ", ".join(p.name for p in self.programs))
            while not self._stopping:
                self._reap()
                for program in self.programs:
                    if program.process.returncode is not None and not self._stopping:
                        self._restart(program)
                time.sleep(0.2)
            return 0
        except GiveUp as exc:
            logger.error("giving up: %s; stopping everything", exc)
            return 1
        finally:
            self.stop_all()

    def _request_stop(self, signum, frame) -> None:
        logger.info("received %s; stopping", signal.Signals(signum).name)
        self._stopping = True

    def _start(self, program: Program) -> None:
        if program.port is not None and port_in_use(program.port):
            raise GiveUp(f"port {program.port} for {program.name} is taken by another process")
        env = {**os.environ, **program.env}
        program.process = subprocess.Popen(
            list(program.command),
            env=env,
            cwd=program.cwd,
            start_new_session=True,
            stdout=subprocess.PIPE if program.pipe_stdout else None,
        )
        if program.pipe_stdout:
            threading.Thread(
                target=_copy_lines, args=(program.process.stdout,), daemon=True, name=f"{program.name}-stdout"
            ).start()
        (self.run_dir / f"{program.name}.pid").write_text(f"{program.process.pid}\n")
        logger.info("started %s (pid %d)", program.name, program.process.pid)
        deadline = time.monotonic() + program.start_timeout
        while program.ready is not None and not self._stopping:
            self._reap()  # a death seen here is kept on its program for the main loop
            if program.process.returncode is not None:
                raise DiedStarting(f"{program.name} exited with {program.process.returncode} while starting")
            if program.ready():
                break
            if time.monotonic() > deadline:
                raise GiveUp(f"{program.name} not ready after {program.start_timeout:.0f} s")
            time.sleep(0.2)
        if not self._stopping:
            logger.info("%s is ready", program.name)

    def _reap(self) -> None:
        """Collect every exited child (orphans too); a program's exit code lands on its process."""
        by_pid = {p.process.pid: p for p in self.programs if p.process and p.process.returncode is None}
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            program = by_pid.get(pid)
            if program is not None:
                program.process.returncode = os.waitstatus_to_exitcode(status)

    def _restart(self, program: Program) -> None:
        while not self._stopping:
            code = program.process.returncode
            _kill_group(program.process.pid, signal.SIGKILL)
            now = time.monotonic()
            program.deaths.append(now)
            while program.deaths and now - program.deaths[0] > self.window:
                program.deaths.popleft()
            if len(program.deaths) > self.max_restarts:
                raise GiveUp(
                    f"{program.name} died {len(program.deaths)} times in {self.window:.0f} s "
                    f"(last exit code {code})"
                )
            delay = self.backoff * 2 ** (len(program.deaths) - 1)
            logger.warning(
                "%s exited with %s; restart %d of %d in %.1f s",
                program.name,
                code,
                len(program.deaths),
                self.max_restarts,
                delay,
            )
            time.sleep(delay)
            try:
                self._start(program)
                return
            except DiedStarting as exc:
                logger.warning("%s", exc)

    def stop_all(self) -> None:
        """SIGTERM each running program's process group, newest first; SIGKILL what lingers."""
        for program in reversed(self.programs):
            process = program.process
            if process is None:
                continue
            if process.returncode is None:
                _kill_group(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=self.stop_timeout)
                except subprocess.TimeoutExpired:
                    logger.warning(
                        "%s ignored SIGTERM for %.0f s; killing it", program.name, self.stop_timeout
                    )
                except ChildProcessError:
                    pass
            # The leader may be gone while its workers linger in the group.
            _kill_group(process.pid, signal.SIGKILL)
            process.returncode = process.returncode if process.returncode is not None else -signal.SIGTERM
            logger.info("stopped %s", program.name)


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _copy_lines(stream) -> None:
    """Copy a program's output to ours until it closes; keep draining if ours is gone."""
    with stream:
        for line in iter(stream.readline, b""):
            try:
                sys.stdout.buffer.write(line)
                sys.stdout.buffer.flush()
            except (OSError, ValueError):
                pass


def _kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
