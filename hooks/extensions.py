"""Jinja filters for copier.yml (validators, defaults) and for every file an answer reaches.

Loaded by copier-template-extensions; stdlib only, because it runs inside the user's copier.
Each answer reaches a file through the filter made for where it lands: `py_str` (Python string
literal), `toml_str` (TOML basic string), `yaml_str` (YAML double-quoted scalar), `md` (Markdown
text, HTML-free). Validators refuse what none of them can represent (`unrepresentable`).
"""

import json
import keyword
import re
import sys
import unicodedata
from pathlib import Path

from jinja2 import Environment
from jinja2.ext import Extension

# Distribution and package names derived from answers stay this short, so every identifier built
# from them fits its limit: Postgres database/role names (63 bytes, with prefixes such as
# `dev_revision_7_`), compose project and volume names (`<slug>-dev-postgres`), Kubernetes names and
# labels (63), environment variable prefixes.
NAME_LIMIT = 40
# An address as packaging metadata (RFC 5322 addr-spec, dot-atom form) takes it: ASCII, no quotes
# or spaces, a domain of dot-separated labels ending in a name.
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
EMAIL_PATTERN = rf"^{ATEXT}(?:\.{ATEXT})*@(?:{LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"
# Categories no file can hold literally; Python gets escapes for them (and for surrogates).
PY_ESCAPED_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}
# Characters a text answer may not hold at all: they would break a line of a config file or of the
# answers file, or cannot be encoded as UTF-8.
REFUSED_CATEGORIES = {"Cc": "a control character", "Cs": "a lone surrogate"}
REFUSED_CATEGORIES |= {"Zl": "a line break", "Zp": "a paragraph break"}
LINE_BREAKS = {"\n": "a line break", "\r": "a line break", "\x85": "a line break"}
# ASCII punctuation with a meaning anywhere in a line of CommonMark or GitHub Markdown (emphasis,
# code, links and images, headings, tables, strikethrough, math); `<` and `&` become entities.
MD_SPECIAL = set("\\`*_[]#|~$")
# What only means something at the start of a line: lists ("-", "+", "1.", "1)"), block quotes.
MD_LINE_START = re.compile(r"^(-|\+|>|\d+\.|\d+\))")
MD_ENTITIES = {"<": "&lt;", "&": "&amp;"}
TOML_SHORT_ESCAPES = {"\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r"}
YAML_SHORT_ESCAPES = {"\0": "\\0", "\t": "\\t", "\n": "\\n", "\r": "\\r"}
# Standard library modules that the Python running copier may lack but a project's oldest
# Python has: removed in 3.12 and 3.13 (PEP 594, PEP 632).
REMOVED_STDLIB_MODULES = {
    *("aifc", "asynchat", "asyncore", "audioop", "cgi", "cgitb", "chunk", "crypt", "distutils"),
    *("imghdr", "imp", "lib2to3", "mailcap", "msilib", "nis", "nntplib", "ossaudiodev", "pipes"),
    *("smtpd", "sndhdr", "spwd", "sunau", "telnetlib", "uu", "xdrlib"),
}
# Every project installs these (hooks/taken_names.json): a project named like one of its own
# dependencies cannot lock (a uv project cannot depend on itself), and a package named like one
# of their modules imports one in place of the other.
_TAKEN = json.loads(Path(__file__).with_name("taken_names.json").read_text(encoding="utf-8"))
TAKEN_DISTRIBUTIONS = frozenset(_TAKEN["distributions"])
TAKEN_MODULES = frozenset(_TAKEN["modules"])
# Top-level packages every project has besides its own.
OWN_MODULES = {
    "devtools": "the project's dev tooling package (devtools/: `uv run dev`, the test servers)",
    "tests": "the project's tests/ package",
}
# Latin letters that Unicode does not decompose into an ASCII letter and an accent.
ASCII_SPELLINGS = str.maketrans(
    {
        "ø": "o",
        "æ": "ae",
        "œ": "oe",
        "ß": "ss",
        "ł": "l",
        "đ": "d",
        "ð": "d",
        "þ": "th",
        "\u0131": "i",
    }
    | {"Ø": "O", "Æ": "AE", "Œ": "OE", "ẞ": "SS", "Ł": "L", "Đ": "D", "Ð": "D", "Þ": "TH"}
)
# What a default name that is taken gets appended (`redis` -> `redis-service`).
STEP_OFF = "service"


def is_python_keyword(name: str) -> bool:
    return keyword.iskeyword(name) or keyword.issoftkeyword(name)


def is_stdlib_module(name: str) -> bool:
    # Only the top-level name matters: `import email` would resolve to the stdlib, not to src/email.
    return name in sys.stdlib_module_names or name in REMOVED_STDLIB_MODULES


def is_dependency(slug: str) -> bool:
    """`slug` names a distribution every project installs (compared as PEP 503 normalizes)."""
    return re.sub(r"[-_.]+", "-", slug).lower() in TAKEN_DISTRIBUTIONS


def taken_module(name: str) -> str:
    """What already answers `import <name>` in every project ("" when nothing does)."""
    if name in OWN_MODULES:
        return OWN_MODULES[name]
    return "the import name of a package the project depends on" if name in TAKEN_MODULES else ""


def unrepresentable(text: str) -> str:
    """What in `text` no generated file can hold ("" when all is fine), for validator messages."""
    for char in text:
        problem = LINE_BREAKS.get(char) or REFUSED_CATEGORIES.get(unicodedata.category(char))
        if problem:
            return f"{problem} ({codepoint(char)})"
    return ""


def codepoint(char: str) -> str:
    return f"U+{ord(char):04X}"


def slugify(text: str) -> str:
    """A valid distribution name from free text, at most NAME_LIMIT characters, "" if none.

    Accents are dropped (letters that are not a base letter plus an accent, like ø, are spelled
    out), anything else that is not a letter or digit separates words, a leading digit is dropped
    (names start with a letter), a long result is cut at a word boundary, and the name of a
    dependency gets `-service` appended.
    """
    spelled = text.translate(ASCII_SPELLINGS)
    ascii_text = unicodedata.normalize("NFKD", spelled).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower())
    slug = re.sub(r"^[^a-z]+", "", slug).strip("-")
    if len(slug) > NAME_LIMIT:
        cut = slug[: NAME_LIMIT + 1]
        slug = cut[:NAME_LIMIT] if "-" not in cut else cut.rsplit("-", 1)[0]
    if is_dependency(slug):  # short names, all of them: the suffix keeps within the limit
        slug = f"{slug}-{STEP_OFF}"
    return slug


def package_from_slug(slug: str) -> str:
    """The default import name: the slug with underscores, moved off keywords, stdlib names and
    names the project already imports."""
    name = slug.replace("-", "_")
    if name and (is_python_keyword(name) or is_stdlib_module(name) or taken_module(name)):
        name = f"{name}_{STEP_OFF}"[:NAME_LIMIT]
    return name


def py_escape(char: str) -> str:
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def py_str(text: str) -> str:
    """A Python string literal for `text`, in the quotes `ruff format` would choose.

    ruff (like black) prefers double quotes unless the text holds more double quotes than single
    quotes. Characters without a visible glyph (controls, format characters such as bidi marks,
    private use, unassigned, separators) are written as escapes, so the source shows them.
    """
    quote = "'" if text.count('"') > text.count("'") else '"'
    body = []
    for char in text:
        if char in {"\\", quote}:
            body.append("\\" + char)
        elif unicodedata.category(char) in PY_ESCAPED_CATEGORIES:
            body.append(py_escape(char))
        else:
            body.append(char)
    return quote + "".join(body) + quote


def toml_str(text: str) -> str:
    """A TOML basic string for `text`: backslash, quote and control characters escaped."""
    body = []
    for char in text:
        if char in {"\\", '"'}:
            body.append("\\" + char)
        elif char in TOML_SHORT_ESCAPES:
            body.append(TOML_SHORT_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            body.append(f"\\u{ord(char):04X}")
        else:
            body.append(char)
    return '"' + "".join(body) + '"'


def yaml_printable(char: str) -> bool:
    # What YAML (and PyYAML's reader) accepts literally inside a double-quoted scalar, minus the
    # characters that count as line breaks (U+0085, U+2028, U+2029) and the byte-order mark.
    code = ord(char)
    return (
        0x20 <= code <= 0x7E
        or 0xA0 <= code <= 0xD7FF
        or 0xE000 <= code <= 0xFFFD
        or 0x10000 <= code <= 0x10FFFF
    ) and char not in {"\u2028", "\u2029", "\ufeff"}


def yaml_str(text: str) -> str:
    """A YAML double-quoted scalar that parses back to exactly `text`."""
    body = []
    for char in text:
        code = ord(char)
        if char in {"\\", '"'}:
            body.append("\\" + char)
        elif char in YAML_SHORT_ESCAPES:
            body.append(YAML_SHORT_ESCAPES[char])
        elif yaml_printable(char):
            body.append(char)
        elif code <= 0xFF:
            body.append(f"\\x{code:02X}")
        elif code <= 0xFFFF:
            body.append(f"\\u{code:04X}")
        else:
            body.append(f"\\U{code:08X}")
    return '"' + "".join(body) + '"'


def md(text: str) -> str:
    """`text` as inline Markdown that renders as exactly `text`: no markup, no HTML.

    Punctuation with a meaning gets a backslash escape (list and quote markers only at the start);
    `<` and `&` become entities; spaces at the edges (which Markdown would drop, or read as a code
    block) become `&#32;`.
    """
    body = []
    for char in text:
        if char in MD_ENTITIES:
            body.append(MD_ENTITIES[char])
        elif char in MD_SPECIAL:
            body.append("\\" + char)
        else:
            body.append(char)
    escaped = "".join(body)
    escaped = MD_LINE_START.sub(lambda marker: marker[0][:-1] + "\\" + marker[0][-1], escaped)
    stripped = escaped.strip(" ")
    lead = len(escaped) - len(escaped.lstrip(" "))
    trail = len(escaped) - len(escaped.rstrip(" "))
    return "&#32;" * lead + stripped + "&#32;" * trail


FILTERS = {
    "is_python_keyword": is_python_keyword,
    "is_stdlib_module": is_stdlib_module,
    "is_dependency": is_dependency,
    "taken_module": taken_module,
    "unrepresentable": unrepresentable,
    "slugify": slugify,
    "package_from_slug": package_from_slug,
    "py_str": py_str,
    "toml_str": toml_str,
    "yaml_str": yaml_str,
    "md": md,
}


class PythonNamesExtension(Extension):
    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        environment.filters.update(FILTERS)
        environment.globals["NAME_LIMIT"] = NAME_LIMIT
        environment.globals["EMAIL_PATTERN"] = EMAIL_PATTERN
