"""How the template's suite splits into CI jobs (shards), computed from tests/variants.py.

A test parametrized with a variant belongs to that variant's shard; a test in one of the files
below belongs to that named shard; any other test (such as the smoke test on the default project)
belongs to the first variant's shard. `uv run pytest --shard <name>` runs one shard, the way each
CI job does; `uv run python -m tests.matrix` prints the shards as the workflow's job matrix.
"""

import os
from collections.abc import Sequence
from dataclasses import dataclass

import pytest

from .variants import INSTALLABLE_PYTHON, VARIANTS, Variant

OPTION = "--shard"


@dataclass(frozen=True)
class Named:
    name: str
    files: tuple[str, ...]
    # Needs the repository's whole history (the release record's commits).
    history: bool = False


NAMED = [
    Named("answers", ("test_answers.py",)),
    Named("properties", ("test_properties.py",)),
    Named("update", ("test_update.py",), history=True),
    Named("repository", ("test_releases.py", "test_shards.py", "test_workflow.py"), history=True),
]


def shard_names(variants: Sequence[Variant] = VARIANTS) -> list[str]:
    return [variant.id for variant in variants] + [named.name for named in NAMED]


def shard_of(item: pytest.Item, variants: Sequence[Variant] = VARIANTS) -> str:
    callspec = getattr(item, "callspec", None)
    variant = callspec.params.get("variant") if callspec else None
    if isinstance(variant, Variant):
        return variant.id
    for named in NAMED:
        if item.path.name in named.files:
            return named.name
    return variants[0].id


def matrix(variants: Sequence[Variant] = VARIANTS) -> list[dict[str, str | int]]:
    """One CI job per shard: its name, the Python it runs on and how much history it fetches."""
    jobs: list[dict[str, str | int]] = [
        {"shard": v.id, "python": str(v.answer("python_version")), "fetch-depth": 1}
        for v in variants
    ]
    jobs += [
        {"shard": n.name, "python": INSTALLABLE_PYTHON, "fetch-depth": 0 if n.history else 1}
        for n in NAMED
    ]
    return jobs


def selected(items: Sequence[pytest.Item], shards: Sequence[str]) -> list[pytest.Item]:
    return [item for item in items if shard_of(item) in shards]


def add_option(parser: pytest.Parser) -> None:
    parser.addoption(
        OPTION,
        action="append",
        default=[],
        metavar="NAME",
        help="run only this shard (a variant id from tests/variants.py, or "
        + ", ".join(named.name for named in NAMED)
        + "); repeatable",
    )


def check_shards(config: pytest.Config) -> None:
    """Refuse the shards named with --shard that cannot run here, before anything is collected:
    raised at collection, in an xdist worker, the message would be lost in an internal error."""
    wanted: list[str] = config.getoption(OPTION)
    unknown = [name for name in wanted if name not in shard_names()]
    if unknown:
        raise pytest.UsageError(
            f"unknown shard {', '.join(unknown)}: use one of {', '.join(shard_names())}"
        )
    if os.environ.get("CI") == "true":
        # A CI job for a variant must run its suite, never quietly only its static checks.
        missing = [v for v in VARIANTS if v.id in wanted and not v.installable]
        if missing:
            raise pytest.UsageError(
                "; ".join(
                    f"shard {v.id} needs Python {v.answer('python_version')}, which uv does not "
                    "find here: install it (setup-uv `python-version`)"
                    for v in missing
                )
            )


def select(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep only the items of the shards named with --shard (all items without it)."""
    wanted: list[str] = config.getoption(OPTION)
    if not wanted:
        return
    kept = selected(items, wanted)
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept
