"""The reader protocol: what the ingest reader and detection need from a record format.

A record format is a module (``hubble``, ``calico``, ``aws_vpc`` ...) or a :class:`Reader`
object (two formats that share one module, like Inspektor Gadget's) with:

* ``NAME``: the format name (``--format`` value);
* ``looks_like(record) -> bool``: does this (first) record belong to the format?
* ``Parser(path, lookahead)``: a parser for one file; ``parse(record)`` -> row dict |
  ``Filtered`` | ``Rejected``, never raising for bad data. ``lookahead`` is the file's first
  records (some formats need a file-level look, e.g. Hubble's legacy ``reply`` rule);
* optionally ``TEXT = True`` (it also reads text lines, see :mod:`recommender.ingest.detect`),
  ``expand(record)`` (a container record -> its inner records, else None) and
  ``describe(record)`` (a few words on what the record is, for errors).

Whole-file formats (``parquet``, ``generic``) are read by their module's ``iter_batches``
instead (see :mod:`recommender.ingest.plan`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from recommender.ingest.sources import Filtered, Rejected


class RecordParser(Protocol):
    """A format's parser for one file."""

    def parse(self, record: Any) -> dict | Filtered | Rejected: ...


class RecordFormat(Protocol):
    """A record format: a module or a :class:`Reader` (see the module docstring)."""

    NAME: str

    def looks_like(self, record: Any) -> bool: ...

    @property
    def Parser(self) -> Callable[..., RecordParser]: ...  # noqa: N802 - the modules' name


@dataclass(frozen=True)
class Reader:
    """A record format that is not a module of its own (two formats in one module)."""

    NAME: str
    looks_like: Callable[[Any], bool]
    Parser: Callable[..., RecordParser]  # noqa: N815 - the modules' name
    TEXT: bool = False
    expand: Callable[[Any], Iterable[Any] | None] | None = None
    describe: Callable[[Any], str | None] | None = None


def reads_text(fmt: RecordFormat) -> bool:
    """Does the format also read text lines?"""
    return bool(getattr(fmt, "TEXT", False))


def expander(fmt: RecordFormat) -> Callable[[Any], Iterable[Any] | None] | None:
    """The format's ``expand`` (container records -> inner records), or None."""
    return getattr(fmt, "expand", None)


def new_parser(
    fmt: RecordFormat, path: str, lookahead: Sequence[Any], **options: Any
) -> RecordParser:
    """The parser of one file of the format."""
    return fmt.Parser(path, lookahead, **options)
