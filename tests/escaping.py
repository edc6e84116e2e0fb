"""The template's escaping filters (hooks/extensions.py), loaded for checks that look for answers
in rendered files."""

import importlib.util
from collections.abc import Callable
from typing import cast

from .conftest import TEMPLATE_ROOT

CONTEXT_FILTERS = ("py_str", "toml_str", "yaml_str", "md")


def _load_filters() -> dict[str, Callable[[str], str]]:
    spec = importlib.util.spec_from_file_location(
        "template_extensions", TEMPLATE_ROOT / "hooks" / "extensions.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(dict[str, Callable[[str], str]], module.FILTERS)


FILTERS = _load_filters()


def rendered_forms(answer: str) -> set[str]:
    """Every way an answer is written into a file: as is, and through each context's filter."""
    return {answer, *(FILTERS[name](answer) for name in CONTEXT_FILTERS)}
