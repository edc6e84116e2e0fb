"""Invalid answers are rejected by copier.yml's validators, with a message, before any file is
written; the copy-time task never overwrites a user's .env."""

import re
from pathlib import Path

import copier
import pytest

from .conftest import TEMPLATE_ROOT
from .variants import BASE_ANSWERS, REJECTED, Rejected


@pytest.mark.parametrize("case", REJECTED, ids=[case.id for case in REJECTED])
def test_invalid_answer_is_rejected_and_nothing_is_written(tmp_path: Path, case: Rejected) -> None:
    destination = tmp_path / "project"

    with pytest.raises(ValueError, match=re.escape(case.message)):
        copier.run_copy(
            str(TEMPLATE_ROOT),
            destination,
            data=BASE_ANSWERS | case.overrides,
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref="HEAD",
        )

    assert not destination.exists()


def test_copy_keeps_an_existing_env(tmp_path: Path) -> None:
    destination = tmp_path / "project"
    destination.mkdir()
    (destination / ".env").write_text("POSTGRES_PASSWORD=mine\n")

    copier.run_copy(
        str(TEMPLATE_ROOT),
        destination,
        data=BASE_ANSWERS,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref="HEAD",
    )

    assert (destination / ".env").read_text() == "POSTGRES_PASSWORD=mine\n"
    assert (destination / ".env.example").exists()
