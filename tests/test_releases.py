"""The release record matches the CHANGELOG and the history: each recorded version is a commit
that exists and that says it is that version, and tags are made from the record."""

import re
import subprocess
from pathlib import Path

import pytest

from .releases import (
    RECORD,
    ROOT,
    ReleaseError,
    changelog_versions,
    current_version,
    git,
    listing,
    record,
    recorded,
    tag,
    tag_name,
    throwaway_clone,
    update_sources,
    version_key,
)

RELEASES = recorded()


def test_the_record_names_releases() -> None:
    assert RELEASES, f"{RECORD.name} records no release"


@pytest.mark.parametrize("version", RELEASES)
def test_recorded_commit_exists_and_is_that_version(version: str) -> None:
    commit = RELEASES[version]
    exists = subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, check=False
    )
    assert exists.returncode == 0, (
        f"{version}'s commit {commit} is not in this repository (a shallow clone? "
        "fetch the whole history, e.g. `fetch-depth: 0`)"
    )
    assert f'version = "{version}"' in git(ROOT, "show", f"{commit}:pyproject.toml")
    assert version in changelog_versions(git(ROOT, "show", f"{commit}:CHANGELOG.md"))


def test_changelog_and_record_agree() -> None:
    in_changelog = changelog_versions((ROOT / "CHANGELOG.md").read_text())
    # Newest first, and the newest is the version being worked on (released or not yet).
    assert in_changelog == sorted(in_changelog, key=version_key, reverse=True)
    assert in_changelog[0] == current_version()
    assert set(RELEASES) <= set(in_changelog)
    # Every version since the first recorded release is recorded, except the unreleased one.
    first = version_key(next(iter(RELEASES)))
    since_first = {v for v in in_changelog if version_key(v) >= first}
    assert since_first - set(RELEASES) <= {current_version()}


def test_tag_creates_the_recorded_tags_once_and_never_moves_one(tmp_path: Path) -> None:
    clone = throwaway_clone(ROOT, tmp_path / "clone")
    for version, commit in RELEASES.items():
        assert git(clone, "rev-parse", f"{tag_name(version)}^{{commit}}") == commit

    assert tag(clone, RELEASES) == []

    newest = next(reversed(RELEASES))
    git(clone, "tag", "--delete", tag_name(newest))
    git(clone, "tag", tag_name(newest), f"{RELEASES[newest]}~1")
    with pytest.raises(ReleaseError, match=f"tag {tag_name(newest)} points at"):
        tag(clone, RELEASES)


def commit_all(clone: Path, message: str) -> None:
    git(clone, "-c", "user.name=T", "-c", "user.email=t@example.com", "commit", "-qam", message)


def test_cutting_a_release_records_head_and_tags_it(tmp_path: Path) -> None:
    # A release candidate, and a record file whose last line lacks its newline (an editor's).
    clone = throwaway_clone(ROOT, tmp_path / "clone")
    pyproject, changelog = clone / "pyproject.toml", clone / "CHANGELOG.md"
    pyproject.write_text(
        pyproject.read_text().replace(f'version = "{current_version()}"', 'version = "9.0.0rc1"')
    )
    record_file = clone / RECORD.name
    record_file.write_text(record_file.read_text().rstrip("\n"))
    with pytest.raises(ReleaseError, match=re.escape("CHANGELOG.md has no `## 9.0.0rc1` section")):
        record(clone, record_file)
    changelog.write_text(changelog.read_text().replace("## ", "## 9.0.0rc1\n\n- Next.\n\n## ", 1))
    with pytest.raises(ReleaseError, match="uncommitted changes"):
        record(clone, record_file)
    commit_all(clone, "9.0.0rc1")
    release_commit = git(clone, "rev-parse", "HEAD")

    record(clone, record_file)

    releases = recorded(record_file)
    assert releases == RELEASES | {"9.0.0rc1": release_commit}
    with pytest.raises(ReleaseError, match=f"{RECORD.name} has uncommitted changes"):
        tag(clone, releases)  # a tag from a record that may never be committed
    commit_all(clone, "Record 9.0.0rc1")
    assert tag(clone, releases) == ["v9.0.0rc1"]
    assert git(clone, "rev-parse", "v9.0.0rc1^{commit}") == release_commit
    assert f"v9.0.0rc1 {release_commit} tagged" in listing(clone, releases)
    with pytest.raises(ReleaseError, match=re.escape("9.0.0rc1 is already recorded")):
        record(clone, record_file)


def test_list_names_the_tags_the_record_lacks(tmp_path: Path) -> None:
    clone = throwaway_clone(ROOT, tmp_path / "clone")
    git(clone, "tag", "v0.0.9", "HEAD~1")

    lines = listing(clone, RELEASES)

    assert [line for line in lines if "v0.0.9" in line] == [
        f"v0.0.9 {git(clone, 'rev-parse', 'HEAD~1')} not in {RECORD.name}"
    ]


def test_a_release_of_the_work_tree_is_not_an_update_source(tmp_path: Path) -> None:
    # Right after a release is recorded, the work tree renders like it: nothing to update from.
    # (This commit may be that release: the test records HEAD under a version of its own.)
    clone = throwaway_clone(ROOT, tmp_path / "clone")
    just_released = RELEASES | {"99.0.0": git(clone, "rev-parse", "HEAD")}

    assert tag_name("99.0.0") not in update_sources(just_released, clone)
    assert update_sources(just_released, clone) == update_sources(RELEASES, clone)

    (clone / "template" / "NEW.md").write_text("new\n")  # the next version's work begins
    assert update_sources(just_released, clone)[-1] == tag_name("99.0.0")
