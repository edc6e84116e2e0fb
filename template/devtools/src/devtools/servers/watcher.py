"""Stops an embedded server whose owner (pytest, dev, a benchmark) ended without stopping it:
killed, gone with its terminal, or sent a SIGTERM that pytest has no handler for. A watcher
process per server reads a pipe from its owner; the pipe ends when the owner does, however it
ends. An owner that stops its server itself dismisses the watcher."""

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from .processes import stop_server


def watch(pid: int, stop_signal: int, directory: Path | None = None) -> Callable[[], None]:
    """Start a watcher that, once this process has ended, stops the server `pid` with
    `stop_signal` and deletes `directory`; returns what dismisses it."""
    watcher = subprocess.Popen(
        [sys.executable, "-m", __name__, str(pid), str(stop_signal), str(directory or "")],
        stdin=subprocess.PIPE,
        # Out of the owner's session: a terminal's Ctrl-C or hang-up reaches the owner, which
        # stops its servers itself, and not the watcher.
        start_new_session=True,
    )

    def dismiss() -> None:
        watcher.kill()
        watcher.wait()
        if watcher.stdin is not None:
            watcher.stdin.close()

    return dismiss


def main() -> None:
    pid, stop_signal, directory = sys.argv[1:]
    sys.stdin.buffer.read()  # nothing is ever written: this returns when the owner has ended
    stop_server(int(pid), int(stop_signal), Path(directory) if directory else None)


if __name__ == "__main__":
    main()
