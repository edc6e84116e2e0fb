"""`dev`'s stop flag: one Ctrl-C is one stop, however many times it reaches dev."""

import signal

import pytest
from devtools.stopping import StopFlag


def test_a_signal_echoed_within_half_a_second_counts_once(
    capfd: pytest.CaptureFixture[str],
) -> None:
    moments = iter([10.0, 10.1, 11.0])
    flag = StopFlag("docker ps", clock=lambda: next(moments))

    flag._handle(signal.SIGINT, None)  # Ctrl-C, from the terminal
    flag._handle(signal.SIGINT, None)  # the same Ctrl-C, forwarded by `uv run`
    first = capfd.readouterr().err
    flag._handle(signal.SIGINT, None)  # a second press: not yet the third that quits
    second = capfd.readouterr().err

    assert first == "dev: stopping\n"
    assert second == "dev: still stopping (the current step ends first); again to quit now\n"
