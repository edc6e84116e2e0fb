"""The template's escaping filters (hooks/extensions.py), loaded for checks that look for answers
in rendered files."""

from collections.abc import Callable
from typing import cast

from .helpers import load_hook

CONTEXT_FILTERS = ("py_str", "toml_str", "yaml_str", "md")


def _load_filters() -> dict[str, Callable[[str], str]]:
    return cast(dict[str, Callable[[str], str]], load_hook("extensions.py").FILTERS)


FILTERS = _load_filters()


def rendered_forms(answer: str) -> set[str]:
    """Every way an answer is written into a file: as is, and through each context's filter."""
    return {answer, *(FILTERS[name](answer) for name in CONTEXT_FILTERS)}
