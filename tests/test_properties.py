"""Every answer the validators accept renders a clean project that holds the answer literally.

Hypothesis generates answers across Unicode (quotes, backslashes, braces, Jinja, shell syntax,
emoji, combining marks, right-to-left text, format characters), renders each with copier (tasks
skipped: neither the lock nor .env depend on these answers) and checks the whole tree.
"""

import ast
import html
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from tempfile import TemporaryDirectory

import copier
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .escaping import FILTERS
from .variants import BASE_ANSWERS

# Fixed and derandomized: the same examples on every run, in a bounded time (see the notes).
EXAMPLES = 30
RUFF = Path(sys.executable).parent / "ruff"
# What naive templating breaks on, mixed into arbitrary text.
AWKWARD = [
    '"',
    "'",
    '"""',
    "\\",
    "\\n",
    "{{ 7*7 }}",
    "{% raw %}",
    "{#",
    "}}",
    "$(id)",
    "`id`",
    "${HOME}",
    "#",
    "<b>&amp;",
    "*_[x](y)_*",
    "🎟️",
    "👩‍👩‍👧",
    "e\u0301",
    "تذاكر",
    "\u200f",
    "\u202e",
    "\ufeff",
    "\u210c",  # black-letter H, a confusable
    "\u0422icket",  # a Cyrillic T
    "1. ",
    "- ",
    "> ",
    " ",
]
# Any character an accepted answer may hold: everything but controls, line and paragraph
# separators and surrogates (which the validators refuse).
ACCEPTED_CHARS = st.characters(exclude_categories=("Cc", "Cs", "Zl", "Zp"))


def text(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    pieces = st.one_of(st.sampled_from(AWKWARD), st.text(ACCEPTED_CHARS, min_size=1, max_size=8))
    return (
        st.lists(pieces, max_size=max_size)
        .map(lambda parts: "".join(parts)[:max_size])
        .filter(lambda value: len(value) >= min_size and bool(value.strip() or min_size == 0))
    )


answers = st.fixed_dictionaries(
    {
        "project_name": text(1, 80),
        "description": text(0, 120),
        "author_name": text(1, 60),
        "author_email": st.emails(),
    }
)


def unescape_markdown(line: str) -> str:
    """The text CommonMark shows for `line`: backslash escapes, then entities, resolved."""
    return html.unescape(re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", line))


def constants(path: Path) -> dict[str, object]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        target.id: ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def ruff(project: Path, *args: str) -> None:
    result = subprocess.run(
        [str(RUFF), *args, "--no-cache", "."], cwd=project, capture_output=True, text=True
    )
    assert result.returncode == 0, f"ruff {' '.join(args)}:\n{result.stdout}{result.stderr}"


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(answers=answers)
def test_accepted_answers_render_a_clean_project_holding_them(
    template: Path, answers: dict[str, str]
) -> None:
    data = BASE_ANSWERS | answers
    if not FILTERS["slugify"](answers["project_name"]):
        data["project_slug"] = "named-by-hand"  # no letters to derive one from: a validator asks
    with TemporaryDirectory(prefix="escaping-property-") as scratch:
        project = Path(scratch) / "project"
        copier.run_copy(
            str(template),
            project,
            data=data,
            defaults=True,
            unsafe=True,
            quiet=True,
            skip_tasks=True,
        )
        recorded = yaml.safe_load((project / ".copier-answers.yml").read_text(encoding="utf-8"))
        assert {key: recorded[key] for key in data} == data

        for source in project.rglob("*.py"):
            compile(source.read_bytes(), str(source), "exec")
        ruff(project, "check")
        ruff(project, "format", "--check")

        about = constants(project / "src" / recorded["package_name"] / "about.py")
        assert about == {
            "TITLE": data["project_name"],
            "DESCRIPTION": data["description"],
            "AUTHOR": data["author_name"],
            "AUTHOR_EMAIL": data["author_email"],
        }

        pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
        assert pyproject["project"]["name"] == recorded["project_slug"]
        assert pyproject["project"]["description"] == data["description"]
        assert pyproject["project"]["authors"] == [
            {"name": data["author_name"], "email": data["author_email"]}
        ]

        compose = yaml.safe_load((project / "compose.yaml").read_text(encoding="utf-8"))
        assert compose["name"] == recorded["project_slug"]

        readme = (project / "README.md").read_text(encoding="utf-8").splitlines()
        assert readme[0].startswith("# ")
        assert unescape_markdown(readme[0].removeprefix("# ")) == data["project_name"]
        assert unescape_markdown(readme[2]) == data["description"]
