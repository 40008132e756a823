"""Block-style YAML written directly, with exactly the bytes of PyYAML's safe dumper.

PyYAML's pure-Python emitter took 2.2 s for the 730 files of a 600-workload proposal, and
libyaml's C emitter still runs PyYAML's Python representer and resolver over every node
(4x faster, no more). Policy objects are small trees of short plain strings, so this module
writes them itself: each distinct scalar is styled once by PyYAML's own analysis (plain
unless that would read back as another type or would need quoting, then single-quoted) and
cached; the layout is PyYAML's (two-space mappings, sequences not indented under their
key). Anything outside that domain raises :class:`NotAlike`, and is left to PyYAML.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

#: The options every policy file is dumped with (block style, key order kept, no aliases
#: is the dumper's part, no folding before column 1000, non-ASCII escaped).
DUMP_OPTIONS: dict[str, Any] = {
    "sort_keys": False,
    "default_flow_style": False,
    "allow_unicode": False,
    "width": 1000,
}

#: Text written here as PyYAML writes it: printable ASCII, never empty, at most 122
#: characters (PyYAML writes a longer key as a complex ``? `` key: its limit of 127
#: counts the 5 characters of the ``!!str`` tag too) and far from the 1000-column fold.
#: Empty text, line breaks, control and non-ASCII characters (escaped in double quotes by
#: PyYAML) are left to PyYAML.
_PLAIN_ASCII = re.compile(r"[ -~]{1,122}")

#: Text PyYAML writes plain, told without asking it (so that a proposal of names, labels
#: and CIDRs is written without importing PyYAML: 10 ms): letters, digits and ``_./-``, led
#: by a letter or digit, and read back as text. Of such text, YAML 1.1 reads as another
#: type only the words of :data:`_NOT_TEXT` (led by a letter) and numbers and times (led by
#: a digit, and none of them holds a ``/``).
_SURELY_PLAIN = re.compile(r"[A-Za-z][\w./-]*|[0-9A-Za-z][\w.-]*/[\w./-]*", re.ASCII)
#: YAML 1.1's booleans and nulls, as PyYAML's resolver spells them.
_NOT_TEXT = frozenset(
    [
        *("yes", "Yes", "YES", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF"),
        *("true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"),
    ]
)

_STR_TAG = "tag:yaml.org,2002:str"


@lru_cache(maxsize=1)
def _pyyaml() -> tuple[Any, Any]:
    """PyYAML's resolver and emitter, for text :data:`_SURELY_PLAIN` does not settle."""
    import yaml

    return yaml.resolver.Resolver(), yaml.emitter.Emitter(None)


class NotAlike(ValueError):
    """A value this writer cannot promise PyYAML's bytes for: text other than short
    printable ASCII, a float, any other type (PyYAML writes the document instead)."""


@lru_cache(maxsize=1 << 16, typed=True)
def scalar(value: str | int | bool | None) -> str:
    """One scalar as PyYAML's emitter writes it in block context (key or value alike for
    simple one-line keys): plain when it reads back as itself, else single-quoted. Checked
    here, once per distinct value (cached), rather than by a walk over every document."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if not isinstance(value, str) or _PLAIN_ASCII.fullmatch(value) is None:
        raise NotAlike(repr(value))
    if _SURELY_PLAIN.fullmatch(value) and value not in _NOT_TEXT:
        return value
    import yaml

    resolver, analyzer = _pyyaml()
    implicit = resolver.resolve(yaml.ScalarNode, value, (True, False)) == _STR_TAG
    analysis = analyzer.analyze_scalar(value)
    if implicit and analysis.allow_block_plain:
        return value
    if analysis.allow_single_quoted:
        return "'" + value.replace("'", "''") + "'"
    return yaml.dump([value], Dumper=yaml.SafeDumper, **DUMP_OPTIONS)[2:-1]


def _leaf(value: Any) -> str:
    """A value written on its key's or dash's line: a scalar, or an empty collection."""
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return scalar(value)


def _mapping(obj: dict, indent: int, out: list[str], inline: bool) -> None:
    """A block mapping at ``indent``; ``inline``: its first key follows a ``- ``. (One
    append per line, text values styled without :func:`_leaf`'s type tests: 65,000 keys
    at 2,000 workloads.)"""
    pad = " " * indent
    lead = "" if inline else pad
    for key, value in obj.items():
        if value.__class__ is str:
            out.append(f"{lead}{scalar(key)}: {scalar(value)}\n")
        elif value and isinstance(value, dict):
            out.append(f"{lead}{scalar(key)}:\n")
            _mapping(value, indent + 2, out, False)
        elif value and isinstance(value, list):
            out.append(f"{lead}{scalar(key)}:\n")
            _sequence(value, indent, out, False)  # PyYAML does not indent it under its key
        else:
            out.append(f"{lead}{scalar(key)}: {_leaf(value)}\n")
        lead = pad


def _sequence(items: list, indent: int, out: list[str], inline: bool) -> None:
    """A block sequence at ``indent``; ``inline``: its first dash follows a ``- ``."""
    dash = " " * indent + "-"
    lead = "-" if inline else dash
    for value in items:
        if value.__class__ is str:
            out.append(f"{lead} {scalar(value)}\n")
        elif value and isinstance(value, dict):
            out.append(lead + " ")
            _mapping(value, indent + 2, out, True)
        elif value and isinstance(value, list):
            out.append(lead + " ")
            _sequence(value, indent + 2, out, True)
        else:
            out.append(f"{lead} {_leaf(value)}\n")
        lead = dash


def dump(obj: dict | list) -> str:
    """``obj`` as block YAML with PyYAML's bytes; :class:`NotAlike` when it holds a value
    outside this writer's domain (or is not a dict or list)."""
    if not isinstance(obj, dict | list):
        raise NotAlike(type(obj).__name__)
    if not obj:
        return _leaf(obj) + "\n"
    out: list[str] = []
    if isinstance(obj, dict):
        _mapping(obj, 0, out, False)
    else:
        _sequence(obj, 0, out, False)
    return "".join(out)
