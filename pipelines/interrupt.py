"""Ctrl-C and SIGTERM stop a whole command, quickly, with one line that says what was kept.

Python turns SIGINT into ``KeyboardInterrupt``; :func:`install` makes SIGTERM (what ``kill``,
systemd and orchestrators send) do the same through :class:`Terminated`, so both take one path.
dlt wraps whatever a resource raises in ``PipelineStepFailed``, so an interruption can arrive
buried in an exception chain: :func:`interruption` digs it out, and the commands stop instead of
reporting an error and going on with the next source. Exit codes follow the shell's convention:
130 for SIGINT, 143 for SIGTERM.
"""

from __future__ import annotations

import signal
from types import FrameType


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where Python raises ``KeyboardInterrupt`` for SIGINT."""

    exit_code = 128 + signal.SIGTERM


class LoadInterrupted(KeyboardInterrupt):
    """A load stopped by a signal; ``str()`` is the one line for the person who sent it."""

    def __init__(self, message: str, exit_code: int = 128 + signal.SIGINT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_code(exc: BaseException) -> int:
    """130 for Ctrl-C, 143 for SIGTERM."""
    return int(getattr(exc, "exit_code", 128 + signal.SIGINT))


def signal_name(code: int) -> str:
    return "SIGTERM" if code == 128 + signal.SIGTERM else "Ctrl-C"


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


def install() -> None:
    """SIGTERM raises :class:`Terminated` in the main thread, SIGINT ``KeyboardInterrupt``.

    SIGINT is set explicitly: a process inherits an ignored SIGINT from its parent (a shell's
    background job, a supervisor or test runner that ignores it), and Python then leaves it
    ignored, so Ctrl-C or ``kill -INT`` would do nothing and the command would run to the end.
    """
    signal.signal(signal.SIGTERM, _on_sigterm)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def interruption(exc: BaseException | None) -> KeyboardInterrupt | None:
    """The ``KeyboardInterrupt`` (or :class:`Terminated`) somewhere in ``exc``'s chain, else ``None``."""
    seen: set[int] = set()
    current = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, KeyboardInterrupt):
            return current
        current = getattr(current, "exception", None) or current.__cause__ or current.__context__
    return None
