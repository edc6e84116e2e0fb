"""The release record (RELEASES.toml): which commit is which template version, and the git tags
made from it.

    uv run python -m tests.releases list     # version, commit, tag state; tags not recorded
    uv run python -m tests.releases record   # record HEAD as the version pyproject.toml names
    uv run python -m tests.releases tag      # create the missing `v<version>` tags from the record
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.version import InvalidVersion, Version

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "RELEASES.toml"
# `## 0.3.0`, `## 0.3.0rc1`: PEP 440 release, pre-release, post- and dev-release segments.
CHANGELOG_HEADING = re.compile(
    r"^## (\d+\.\d+\.\d+(?:(?:a|b|rc)\d+)?(?:\.post\d+)?(?:\.dev\d+)?)\s*$", re.MULTILINE
)
# What a template's update result depends on: a release rendering like the work tree is no update.
TEMPLATE_PATHS = ("template", "copier.yml", "hooks")


class ReleaseError(Exception):
    """The record, the tags or the repository disagree; the message says how to fix it."""


def recorded(record: Path = RECORD) -> dict[str, str]:
    """Version -> full commit id, oldest first."""
    releases: dict[str, str] = tomllib.loads(record.read_text())["releases"]
    return dict(sorted(releases.items(), key=lambda item: version_key(item[0])))


def version_key(version: str) -> Version:
    try:
        return Version(version)
    except InvalidVersion:
        raise ReleaseError(f"{version!r} is not a PEP 440 version (e.g. 0.3.0, 0.3.0rc1)") from None


def tag_name(version: str) -> str:
    return f"v{version}"


def changelog_versions(text: str) -> list[str]:
    """The `## X.Y.Z` headings of a CHANGELOG, newest first, as written."""
    return CHANGELOG_HEADING.findall(text)


def current_version(root: Path = ROOT) -> str:
    version: str = tomllib.loads((root / "pyproject.toml").read_text())["project"]["version"]
    return version


def git(repo: Path, *args: str) -> str:
    result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise ReleaseError(f"`git {' '.join(args)}` in {repo} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def tag(repo: Path, releases: dict[str, str]) -> list[str]:
    """Create `v<version>` for every recorded release that lacks it; returns the tags created.
    An existing tag on another commit is an error, never moved; so is an uncommitted record."""
    if git(repo, "status", "--porcelain", "--", RECORD.name):
        raise ReleaseError(
            f"{RECORD.name} has uncommitted changes: commit the record first, so that every tag "
            "is made from a record the repository keeps"
        )
    created = []
    for version, commit in releases.items():
        name = tag_name(version)
        existing = tagged_commit(repo, name)
        if existing == commit:
            continue
        if existing:
            raise ReleaseError(
                f"tag {name} points at {existing}, but RELEASES.toml records {commit}: "
                f"delete the tag (`git tag -d {name}`) or fix the record"
            )
        git(repo, "tag", "--annotate", "--message", f"Template version {version}", name, commit)
        created.append(name)
    return created


def tagged_commit(repo: Path, name: str) -> str:
    """The commit tag `name` points at; "" when there is no such tag."""
    return subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", f"refs/tags/{name}^{{commit}}"],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()


def listing(repo: Path, releases: dict[str, str]) -> list[str]:
    """One line per recorded release with its tag's state, then the `v*` tags the record lacks
    (copier would offer them as versions)."""
    lines = []
    for version, commit in releases.items():
        existing = tagged_commit(repo, tag_name(version))
        state = "tagged" if existing == commit else f"tag on {existing}" if existing else "untagged"
        lines.append(f"{tag_name(version)} {commit} {state}")
    recorded_tags = {tag_name(version) for version in releases}
    stray = [name for name in git(repo, "tag", "--list", "v*").split() if name not in recorded_tags]
    lines += [f"{name} {tagged_commit(repo, name)} not in {RECORD.name}" for name in stray]
    return lines


def renders_like_the_work_tree(repo: Path, commit: str) -> bool:
    """The template at `commit` is the work tree's (tracked changes and new files included)."""
    paths = ["--", *TEMPLATE_PATHS]
    changed = subprocess.run(["git", "diff", "--quiet", commit, *paths], cwd=repo, check=False)
    return changed.returncode == 0 and not git(
        repo, "ls-files", "--others", "--exclude-standard", *paths
    )


def update_sources(releases: dict[str, str], repo: Path = ROOT) -> list[str]:
    """The tags projects are scaffolded at to test updates: the last two releases, the update
    most projects take and one more. Not a release the work tree renders like (the newest, right
    after it is recorded): there is nothing to update."""
    return [
        tag_name(version)
        for version, commit in releases.items()
        if not renders_like_the_work_tree(repo, commit)
    ][-2:]


def throwaway_clone(source: Path, destination: Path) -> Path:
    """A full clone of `source` (all history, no hard links), with the recorded releases tagged."""
    git(source.parent, "clone", "--quiet", "--no-local", str(source), str(destination))
    tag(destination, recorded(source / RECORD.name))
    return destination


def record(repo: Path, record_file: Path = RECORD) -> str:
    """Add HEAD under the version pyproject.toml names. A commit cannot name itself: the record
    entry is committed after the release commit."""
    version = current_version(repo)
    releases = recorded(record_file)
    if version in releases:
        raise ReleaseError(
            f"{version} is already recorded as {releases[version]}: bump the version in "
            "pyproject.toml and add its CHANGELOG.md section first"
        )
    if version not in changelog_versions((repo / "CHANGELOG.md").read_text()):
        raise ReleaseError(f"CHANGELOG.md has no `## {version}` section: write it first")
    if git(repo, "status", "--porcelain", "--untracked-files=no"):
        raise ReleaseError("the work tree has uncommitted changes: commit the release first")
    commit = git(repo, "rev-parse", "HEAD")
    text = record_file.read_text()
    separator = "" if not text or text.endswith("\n") else "\n"
    record_file.write_text(f'{text}{separator}"{version}" = "{commit}"\n')
    recorded(record_file)  # still parses, with the new entry
    return f"{version} = {commit}"


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "list"
    try:
        if command == "tag":
            created = tag(ROOT, recorded())
            print("\n".join(created) if created else "every recorded release is tagged")
        elif command == "record":
            print(f"recorded {record(ROOT)}; commit RELEASES.toml, then run `tag`")
        elif command == "list":
            print("\n".join(listing(ROOT, recorded())))
        else:
            print(f"unknown command {command!r}: use list, record or tag", file=sys.stderr)
            return 2
    except ReleaseError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
