"""SIGTERM, as in a rolling restart: readiness turns 503 first, requests in flight get the grace
period to finish, then the resources close and the process exits (run by tests/fixtures/faults.py).
"""

import signal

import pytest

from .fixtures.faults import SHUTDOWN_DELAY_SECONDS, SHUTDOWN_GRACE_SECONDS, ShutdownRun

pytestmark = pytest.mark.faults


def test_readiness_turns_503_on_sigterm(shutdown_run: ShutdownRun) -> None:
    assert shutdown_run.ready_before.status_code == 200
    assert shutdown_run.ready_during.status_code == 503
    assert shutdown_run.ready_during.json() == {
        "status": "unavailable",
        "checks": {"server": "shutting down"},
    }


def test_after_the_delay_no_new_connection_is_taken_and_kept_alive_ones_close(
    shutdown_run: ShutdownRun,
) -> None:
    # Else under steady traffic the server is never idle: it would serve to the end of the grace
    # period, then cut what it had just taken.
    # Reset: the kernel had queued the connection as the server stopped listening, unserved.
    refused = {"ConnectionRefusedError", "ConnectionResetError", "closed"}
    assert shutdown_run.new_connection in refused
    assert shutdown_run.kept_alive == b""  # closed by the server, not left for one more request


def test_a_request_in_flight_finishes_within_the_grace_period(shutdown_run: ShutdownRun) -> None:
    # Answered in full after the signal: its body was read and routed (no such path: 404).
    assert shutdown_run.finished.startswith(b"HTTP/1.1 404 "), shutdown_run.finished


def test_then_the_rest_is_cut_and_resources_close(shutdown_run: ShutdownRun) -> None:
    log = shutdown_run.log
    # uvicorn re-raises the signal it handled once it has shut down cleanly.
    assert shutdown_run.returncode in {0, -signal.SIGTERM}, log
    order = [
        f"SIGTERM: readiness is 503, new requests are served {SHUTDOWN_DELAY_SECONDS:g}s more; "
        f"2 request(s) in flight get up to {SHUTDOWN_GRACE_SECONDS:g}s to finish",
        '"POST /drain-probe HTTP/1.1" 404',
        "request still running after the grace period: cancelled: POST /drain-probe",
        '"POST /drain-probe HTTP/1.1" 503',
        "resources closed",
        "Application shutdown complete",
    ]
    positions = [log.find(event) for event in order]
    assert -1 not in positions, log
    assert positions == sorted(positions), log
