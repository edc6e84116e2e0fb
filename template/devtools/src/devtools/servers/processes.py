"""Loopback ports and local processes: find a port, wait for a server, stop what we started."""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((LOOPBACK, 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until(what: str, ready: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not ready():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not ready within {seconds:g}s")
        time.sleep(0.05)


def pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another user (embedded PostgreSQL run by root)
        pass
    with contextlib.suppress(OSError):  # a zombie waits for its parent: it is not running
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    return True


def end_pid(pid: int, stop_signal: int, seconds: float = 15) -> None:
    """Make sure a server process (not our child) is gone: signal it, then kill it."""
    for current in (stop_signal, signal.SIGKILL):
        if not pid_running(pid):
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, current)
        deadline = time.monotonic() + seconds
        while pid_running(pid) and time.monotonic() < deadline:
            time.sleep(0.05)


def stop_server(pid: int, stop_signal: int, data: Path | None) -> None:
    """An embedded server gone, and its throwaway `data` (None: kept) deleted: what its owner's
    close does, and its watcher's once the owner is gone without closing it."""
    end_pid(pid, stop_signal)
    if data is not None:
        shutil.rmtree(data, ignore_errors=True)


def end_process(process: "subprocess.Popen[bytes]", seconds: float = 15) -> int:
    """SIGTERM, as a process manager stops it, then SIGKILL; returns the exit status."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def uvicorn(
    app: str,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    args: Sequence[str] = (),
    ready_path: str = "/health/live",
    log: Path | None = None,
    seconds: float = 60,
) -> Iterator[tuple[str, "subprocess.Popen[bytes]"]]:
    """`uvicorn --factory app` on a free loopback port; yields (base URL, process) once
    `ready_path` answers 200, and stops it with SIGTERM on exit."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--host", LOOPBACK]
    command += ["--port", str(port), *args]
    with contextlib.ExitStack() as stack:
        output = stack.enter_context(log.open("wb")) if log else subprocess.DEVNULL
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=output, stderr=output)
        stack.callback(end_process, process)
        base = f"http://{LOOPBACK}:{port}"

        def ready() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"uvicorn {app} exited with status {process.returncode}")
            return http_ok(base + ready_path)

        wait_until(f"uvicorn {app} on {base}", ready, seconds)
        yield base, process
