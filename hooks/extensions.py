"""Jinja filters for copier.yml validators and defaults.

Loaded by copier-template-extensions; stdlib only, because it runs inside the user's copier.
"""

import keyword
import re
import sys
import unicodedata

from jinja2 import Environment
from jinja2.ext import Extension


def is_python_keyword(name: str) -> bool:
    return keyword.iskeyword(name) or keyword.issoftkeyword(name)


def is_stdlib_module(name: str) -> bool:
    # Only the top-level name matters: `import email` would resolve to the stdlib, not to src/email.
    return name in sys.stdlib_module_names


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


class PythonNamesExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters["is_python_keyword"] = is_python_keyword
        environment.filters["is_stdlib_module"] = is_stdlib_module
        environment.filters["slugify"] = slugify
