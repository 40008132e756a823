"""Which format is this file? The format registry and per-file detection.

:data:`FORMAT_MODULES` maps each format name to what reads it: a module path, or
``module:attribute`` for a :class:`~recommender.ingest.reader.Reader` object (two formats in
one module). Record formats (all but :data:`FILE_FORMATS`) follow the reader protocol of
:mod:`recommender.ingest.reader` (``NAME``, ``looks_like``, ``Parser``, optional ``TEXT``,
``expand``, ``describe``); whole-file formats have ``iter_batches``.

Detection looks at the first record of a file that parses as JSON (garbage lines before it
are still counted as rejected by the reader). New formats register here, in detection order.

Text formats: a reader that sets ``TEXT = True`` also reads text lines. When a file's first
records are not JSON, the reader hands out :class:`~recommender.ingest.sources.TextLine`
records; detection offers them (up to :data:`TEXT_DETECT_LINES` non-empty ones, so a cut or
garbage first line does not hide the format) to the text formats' ``looks_like`` only, and
their ``Parser.parse`` receives every line (JSON values still go to every record format).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from types import ModuleType
from typing import Any

from recommender.ingest.errors import InputError
from recommender.ingest.reader import RecordFormat, reads_text
from recommender.ingest.sources import Rejected, TextLine
from recommender.validate import truncated_repr

#: format name -> module path or ``module:attribute`` (a Reader object). Order matters:
#: record formats are tried in it.
FORMAT_MODULES: dict[str, str] = {
    # Calico before Hubble: Hubble's looks_like takes any object with a "flow" key, which a
    # Goldmane FlowResult has; the Calico checks never accept a Hubble record.
    "calico-ee": "recommender.ingest.calico",
    "calico-goldmane": "recommender.ingest.goldmane",
    "hubble": "recommender.ingest.hubble",
    "aws-vpc": "recommender.ingest.aws_vpc",
    "antrea": "recommender.ingest.antrea",
    # Two formats in one module: its two Reader objects.
    "ig-legacy": "recommender.ingest.gadget:LEGACY_READER",
    "ig-trace-tcp": "recommender.ingest.gadget:TRACE_TCP_READER",
    "parquet": "recommender.ingest.parquet",
    "generic": "recommender.ingest.generic",
}
#: Formats that are not record streams (read whole by their module).
FILE_FORMATS = frozenset({"parquet", "generic"})


#: Non-empty text lines of a text file offered to the text formats before detection gives
#: up: garbage lines first (a cut line, NULs) are rejected by the format's parser.
TEXT_DETECT_LINES = 20


def register_format(name: str, module: str, *, file_format: bool = False) -> None:
    """Add (or replace) a format: ``module`` is an import path, or ``module:attribute``."""
    FORMAT_MODULES[name] = module
    if file_format:
        global FILE_FORMATS
        FILE_FORMATS = FILE_FORMATS | {name}


def formats() -> tuple[str, ...]:
    return tuple(FORMAT_MODULES)


def load(name: str) -> ModuleType | RecordFormat:
    """The module or Reader for a format name; InputError for an unknown name."""
    try:
        path = FORMAT_MODULES[name]
    except KeyError:
        known = ", ".join(FORMAT_MODULES)
        raise InputError(f"unknown format {name!r} (known: {known})") from None
    module, _, attribute = path.partition(":")
    loaded = importlib.import_module(module)
    return getattr(loaded, attribute) if attribute else loaded


def record_formats() -> list[str]:
    return [n for n in FORMAT_MODULES if n not in FILE_FORMATS]


def text_formats() -> list[str]:
    """Record formats that read text lines (``TEXT = True``)."""
    return [n for n in record_formats() if reads_text(load(n))]


def detect_record(record: Any) -> str | None:
    """The first record format whose ``looks_like`` accepts the record, else None.

    A :class:`TextLine` is offered to the text formats only.
    """
    names = text_formats() if isinstance(record, TextLine) else record_formats()
    for name in names:
        if load(name).looks_like(record):
            return name
    return None


def describe(value: Any) -> str:
    """What a record looked like, in a few words, safe to print on one line."""
    if isinstance(value, Rejected):
        if value.reason == "invalid UTF-8":
            return "binary data"
        if value.reason == "invalid JSON":
            return f"text, not JSON ({value.detail[:100]})"
        return f"unreadable data ({value.reason})"
    if isinstance(value, TextLine):
        return f"text ({truncated_repr(str(value[:100]))})"
    if isinstance(value, dict):
        if not value:
            return "an empty JSON object"
        keys = sorted(value, key=str)
        shown = ", ".join(truncated_repr(k, 40) for k in keys[:8])
        more = f", ... ({len(keys)} keys)" if len(keys) > 8 else ""
        return f"a JSON object with keys {shown}{more}"
    if isinstance(value, list):
        return "a JSON array"
    if isinstance(value, str):
        return "a JSON string"
    if isinstance(value, bool) or value is None:
        return f"a JSON {'null' if value is None else 'boolean'}"
    return "a JSON number"


def detect_file(path: str, lookahead: Sequence[tuple[str, int, Any]]) -> str | None:
    """The format of a record file from its first records (``(path, number, raw)``).

    Returns None when the file has no record that could be parsed but every failure is a
    reading problem (corrupt gzip, over-long line): those are counted, no format is needed.
    Raises InputError when the first parsed record is of no supported format, or when the
    file is not JSON at all. For a text file (the reader gives
    :class:`~recommender.ingest.sources.TextLine` records) the first line a text format
    accepts decides, among the text formats only; up to :data:`TEXT_DETECT_LINES` non-empty
    lines are tried.
    """
    first_bad: Rejected | None = None
    first_text: TextLine | None = None  # the first text line no text format took
    text_lines = 0
    for _, _, raw in lookahead:
        if isinstance(raw, Rejected):
            if first_bad is None and raw.reason in ("invalid JSON", "invalid UTF-8"):
                first_bad = raw
            continue
        if isinstance(raw, TextLine):
            if not raw:
                continue
            text_lines += 1
            name = detect_record(raw)
            if name is not None:
                return name
            if first_text is None:
                first_text = raw
            if text_lines < TEXT_DETECT_LINES:
                continue  # a cut or garbage line: the parser rejects it with file:line
            break
        name = detect_record(raw)
        if name is None:
            raise InputError(
                f"{path}: not a supported flow log format (looked like {describe(raw)})"
            )
        return name
    if first_text is not None:
        raise InputError(
            f"{path}: not a supported flow log format (looked like {describe(first_text)})"
        )
    if first_bad is not None:
        raise InputError(
            f"{path}: not a supported flow log format (looked like {describe(first_bad)})"
        )
    return None
