"""Input files -> raw records, without ever crashing on what is inside them.

* :func:`expand_inputs` turns the user's paths (files and directories, any mix) into a
  sorted list of files; a missing path is an :class:`InputError`. ``-`` is standard input,
  named :data:`STDIN` (``<stdin>``) from then on, in rows and errors alike.
* :func:`head_bytes` reads the first bytes of any input (of standard input too);
  :mod:`recommender.ingest.sniff` tells gzip and Parquet from them.
* :class:`Rejected`, :class:`Filtered` and :func:`new_row` are what a format parser returns
  for one record.
* :func:`iter_records` yields ``(path, record_number, raw)`` from a record file: JSON
  lines, a stream of JSON objects (pretty-printed over several lines, like ``jq .`` or
  ``hubble observe -o jsonpretty``, or written back to back: ``{..}{..}``), or one JSON
  array (``[...]``), plain or gzip-compressed (detected by magic bytes, concatenated
  members allowed). ``raw`` is the parsed JSON value, or a :class:`Rejected` when the
  record could not be read (invalid UTF-8, invalid JSON, a line or object over
  :data:`MAX_LINE` bytes, a corrupt or truncated gzip stream). ``record_number`` is the
  1-based line number for JSON lines, the line where the object starts for an object
  stream, and the 1-based array index for a JSON array. Blank lines are skipped and not
  counted as records.
* Object streams: a file whose first line starts a JSON object that line does not hold
  alone (the next line continues it: ``"key": ...`` or ``}``), or holds followed by another
  object (``{..}{..}``), is read object by object (see :func:`content_mode`). Damage (a
  truncated object, garbage between objects) is one rejected record at the line where it
  starts; reading resumes at the next line that starts with ``{``.
* Text files: when none of the first :data:`TEXT_PROBE` records of a line-oriented file parses
  as a JSON object but some are readable text, the file is read as text lines (a line that
  is a JSON scalar or array, e.g. a cut ``2`` or ``[]``, is no evidence of JSON): ``raw``
  is then a :class:`TextLine` (the decoded line, stripped of surrounding whitespace), or a
  :class:`Rejected` for a line that is not UTF-8 or is too long. Formats that read text
  (``TEXT = True`` in their module, e.g. AWS VPC Flow Logs) parse these lines; detection
  refuses the file for every other format.
* Standard input (:data:`STDIN`) is read as it arrives, once. The probes that look at a
  file's start before it is read (file kind, CSV header, the fast Hubble probe) and a
  parser's pre-pass over its whole file (AWS VPC pairing) get a replay: what they read is
  kept in a spool (memory, then an anonymous temporary file) until the reader calls
  :func:`stop_keeping_stdin`; from then on the reader reads the stream directly.

Memory stays bounded: files are read in chunks, a line (or object) longer than
:data:`MAX_LINE` is skipped as it streams past (never held whole), and gzip output is
produced in bounded pieces, so a decompression bomb cannot blow up memory either.
"""

from __future__ import annotations

import codecs
import json
import os
import re
import sys
import tempfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from recommender.ingest import remote, sniff
from recommender.ingest.errors import InputError
from recommender.ingest.sniff import BOM
from recommender.schema import FLOW_COLUMNS, FLOW_SCHEMA
from recommender.validate import truncated_repr

__all__ = [
    "CHUNK",
    "MAX_LINE",
    "Filtered",
    "Rejected",
    "STDIN",
    "TEXT_PROBE",
    "TextLine",
    "expand_inputs",
    "file_size",
    "head_bytes",
    "input_size",
    "iter_records",
    "new_row",
    "opened_size",
    "stop_keeping_stdin",
]

#: Lines (and JSON array elements) longer than this are rejected without being parsed.
MAX_LINE = 16 * 1024 * 1024
#: Bytes read from disk (and produced by gzip) per step.
CHUNK = 1 << 18
#: Compressed bytes fed to zlib per call: damage loses at most the output of one piece, and
#: that piece is then inflated again byte by byte up to the damage.
GZIP_PIECE = 16 * 1024
#: Records (non-blank lines) of a line-oriented file looked at before it is read as text:
#: when none of them is a JSON object, it is a text file. At least the ingest lookahead
#: (1000), so a JSON file whose first lines are garbage is still read as JSON, exactly as
#: before text support.
TEXT_PROBE = 1000

#: The name standard input goes by (an INPUT of ``-``): in rows, errors and reports.
STDIN = "<stdin>"
#: The command-line spelling of standard input.
STDIN_ARG = "-"
#: Bytes of standard input kept in memory for a replay before the spool moves to disk.
SPOOL_MEMORY = 8 << 20
#: Bytes looked at, at most, to tell an object stream from JSON lines (see content_mode).
PROBE_BYTES = 1 << 20

WHITESPACE = b" \t\r\n"

Progress = Callable[[int], None] | None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A record that could not be used: counted as rejected with file:line."""

    reason: str
    detail: str = ""


class TextLine(str):
    """One line of a text (not JSON) record file: decoded UTF-8, surrounding ASCII
    whitespace stripped. A ``str`` subclass, so a JSON string record (a plain ``str``) is
    never mistaken for one."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class Filtered:
    """A well-formed record that is deliberately not normalized (e.g. a Hubble node_status)."""

    reason: str


#: A row with every FLOW_SCHEMA column null, in schema order. Parsers start each row from
#: :func:`new_row` and only assign existing keys, so rows transpose into columns cheaply.
ROW_TEMPLATE: dict[str, Any] = dict.fromkeys(FLOW_COLUMNS)


def new_row() -> dict[str, Any]:
    """A fresh row dict (all columns null, schema order) for a format parser to fill."""
    return ROW_TEMPLATE.copy()


def aligned(row: dict[str, Any]) -> dict[str, Any]:
    """``row`` with every FLOW_SCHEMA column, in schema order (missing ones null)."""
    unknown = set(row) - set(FLOW_SCHEMA.names)
    if unknown:  # a parser bug, not bad input
        raise ValueError(f"row has columns not in FLOW_SCHEMA: {sorted(unknown)}")
    aligned = new_row()
    aligned.update(row)
    return aligned


class Rows:
    """Rows accumulated as dicts (from ``new_row``: every column, schema order), turned
    into FLOW_SCHEMA record batches by transposing them at C speed."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.width = len(FLOW_SCHEMA)

    def append(self, row: dict[str, Any]) -> None:
        if len(row) != self.width:
            row = aligned(row)
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def flush(self) -> pa.RecordBatch:
        columns = list(zip(*map(tuple, map(dict.values, self.rows)), strict=True))
        self.rows = []
        arrays = [
            pa.array(values, type=field.type)
            for field, values in zip(FLOW_SCHEMA, columns, strict=True)
        ]
        return pa.RecordBatch.from_arrays(arrays, schema=FLOW_SCHEMA)


class _CorruptGzip(Exception):
    pass


# --------------------------------------------------------------------------- file lists


def _skip_in_directory(name: str) -> bool:
    lower = name.lower()
    return name.startswith(".") or lower.startswith("readme") or lower.endswith(".md")


def expand_inputs(inputs: Iterable[str | os.PathLike]) -> list[str]:
    """Files to read, in order: each input as given; directories recursed in sorted order.

    Inside directories, hidden files and directories, ``README*`` and ``*.md`` are skipped.
    ``-`` is standard input (:data:`STDIN`), at most once (a file named ``-`` is ``./-``).
    A path that does not exist (or is neither a file nor a directory) is an InputError.
    An fsspec URL (:mod:`recommender.ingest.remote`) is a file, a directory or prefix, or
    a glob, expanded the same way; its files are named as URLs spelled from the one given.
    """
    if isinstance(inputs, str | bytes | os.PathLike):
        inputs = [inputs]
    files: list[str] = []
    for raw in inputs:
        path = os.fsdecode(os.fspath(raw))
        if path == STDIN_ARG:
            if STDIN in files:
                raise InputError(f"{STDIN_ARG}: standard input can be given only once")
            files.append(STDIN)
        elif remote.is_url(path):
            files.extend(_expand_url(path))
        elif os.path.isdir(path):
            found: list[tuple[tuple[str, ...], str]] = []
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                rel = os.path.relpath(dirpath, path)
                parts = () if rel == os.curdir else tuple(rel.split(os.sep))
                for name in filenames:
                    full = os.path.join(dirpath, name)
                    if _skip_in_directory(name) or not os.path.isfile(full):
                        continue
                    found.append(((*parts, name), full))
            files.extend(full for _, full in sorted(found))
        elif os.path.isfile(path):
            # A file really named like standard input's stand-in keeps a name of its own.
            files.append(os.path.join(os.curdir, path) if path == STDIN else path)
        elif os.path.exists(path):
            raise InputError(f"{path}: not a regular file or directory")
        else:
            raise InputError(f"{path}: no such file or directory")
    return files


def _expand_url(url: str) -> list[str]:
    """The files of one URL input, as :func:`expand_inputs` expands a path (a glob's
    matches in sorted order, each expanded in turn)."""
    files: list[str] = []
    for match in remote.matches(url):
        kind = remote.kind(match)
        if kind == "directory":
            found = [
                (parts, file)
                for parts, file in remote.walk(match)
                if not any(p.startswith(".") for p in parts[:-1])
                and not _skip_in_directory(parts[-1])
            ]
            files.extend(file for _, file in sorted(found))
        elif kind == "file":
            files.append(match)
        elif kind == "other":
            raise InputError(f"{match}: not a regular file or directory")
        else:
            raise InputError(f"{match}: no such file or directory")
    return files


def file_size(path: str) -> int:
    """The size in bytes of a file or URL (OSError when it cannot be read)."""
    if remote.is_url(path):
        return remote.size(path)
    return os.path.getsize(path)


def opened_size(path: str, f: Any) -> int:
    """The size in bytes of ``path``, opened as ``f`` by :func:`open_input` (not stdin)."""
    if remote.is_url(path):
        return f.size if hasattr(f, "size") else remote.size(path)
    return os.fstat(f.fileno()).st_size


def input_size(inputs: Iterable[str | os.PathLike]) -> int:
    """Total size in bytes of every file the inputs expand to (for a progress bar).

    Standard input counts 0: its size is not known before it has been read."""
    total = 0
    for path in expand_inputs(inputs):
        if path == STDIN:
            continue
        try:
            total += file_size(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return total


def open_input(path: str):
    """The file opened in binary mode (an fsspec file for a URL); for :data:`STDIN`, a
    replaying reader of it."""
    if path == STDIN:
        return _stdin().reader()
    try:
        if remote.is_url(path):
            return remote.open_url(path)
        return open(path, "rb")  # noqa: SIM115 - closed by the callers' ``with``
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- stdin


class _Stdin:
    """Standard input, read once from the stream but replayable while it is kept.

    Everything read from the stream is appended to a spool (memory up to
    :data:`SPOOL_MEMORY`, then an anonymous temporary file, gone when closed) while
    ``keep`` is on, so each new reader starts from byte 0. Once ``keep`` is off, the reader
    that has replayed the spool reads on from the stream directly and the spool is closed:
    a reader that would need the dropped bytes again gets an InputError.
    """

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.spool: Any = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY)  # noqa: SIM115
        self.kept = 0  # bytes in the spool (the stream's first ones)
        self.consumed = 0  # bytes read from the stream
        self.keep = True
        self.eof = False

    def read_at(self, pos: int, size: int) -> bytes:
        """Up to ``size`` bytes from offset ``pos`` (``b""`` at the end of the input)."""
        if pos < self.kept:
            if self.spool is None:
                raise InputError(f"{STDIN}: standard input cannot be read twice")
            self.spool.seek(pos)
            return self.spool.read(min(size, self.kept - pos))
        if pos != self.consumed:
            raise InputError(f"{STDIN}: standard input cannot be read twice")
        if self.eof:
            if not self.keep:
                self.close()  # the reader is through: nobody reads the spool again
            return b""
        data = self.stream.read(size)
        if not isinstance(data, bytes | bytearray):
            raise InputError(f"{STDIN}: standard input is not a binary stream")
        if not data:
            self.eof = True
            if not self.keep:
                self.close()
            return b""
        data = bytes(data)
        self.consumed += len(data)
        if self.keep:
            self.spool.seek(self.kept)
            self.spool.write(data)
            self.kept += len(data)
        elif self.spool is not None:
            self.close()
        return data

    def close(self) -> None:
        if self.spool is not None:
            self.spool.close()
            self.spool = None

    def reader(self) -> _StdinReader:
        return _StdinReader(self)


class _StdinReader:
    """A binary file object over :class:`_Stdin`, from its first byte (``read``, ``seek``
    to an absolute offset, ``tell``, ``close``)."""

    def __init__(self, source: _Stdin) -> None:
        self.source = source
        self.pos = 0

    def read(self, size: int | None = -1) -> bytes:
        """``size`` bytes, fewer only at the end of the input (every byte for -1)."""
        parts: list[bytes] = []
        want = CHUNK if size is None or size < 0 else size
        while want > 0:
            data = self.source.read_at(self.pos, want)
            if not data:
                break
            self.pos += len(data)
            parts.append(data)
            if size is not None and size >= 0:
                want -= len(data)
        return b"".join(parts)

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence != 0 or offset < 0:
            raise OSError("standard input can only be repositioned to an absolute offset")
        self.pos = offset
        return offset

    def tell(self) -> int:
        return self.pos

    def close(self) -> None:
        pass

    def __enter__(self) -> _StdinReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_STDIN: _Stdin | None = None


def _stdin() -> _Stdin:
    """The replayable source of the current standard input (a new one when sys.stdin
    was replaced, e.g. by a test runner)."""
    global _STDIN
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    if stream is None:
        raise InputError(f"{STDIN}: there is no standard input to read")
    if _STDIN is None or _STDIN.stream is not stream:
        if _STDIN is not None:
            _STDIN.close()
        _STDIN = _Stdin(stream)
    return _STDIN


def stop_keeping_stdin() -> None:
    """The probes of standard input are done and its parser is set up (it has made any
    pre-pass it needed): the reader reads on from the stream without keeping a copy."""
    if _STDIN is not None:
        _STDIN.keep = False


def close_stdin() -> None:
    """Standard input has been read: drop its spool (a later read sees an empty input)."""
    global _STDIN
    if _STDIN is not None:
        _STDIN.close()
        _STDIN = None


def head_bytes(path: str, size: int) -> bytes:
    """The first ``size`` bytes of an input (of standard input too: they are kept for its
    reader); InputError when it cannot be read."""
    try:
        with open_input(path) as f:
            return f.read(size)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None


# --------------------------------------------------------------------------- byte chunks


def _file_chunks(f, progress: Progress) -> Iterator[bytes]:
    while True:
        data = f.read(CHUNK)
        if not data:
            return
        if progress is not None:
            progress(len(data))
        yield data


def _gunzip(raw: Iterator[bytes]) -> Iterator[bytes]:
    """Decompress (possibly concatenated) gzip members in bounded pieces.

    Everything that decompresses is yielded; then a corrupt or truncated stream raises
    _CorruptGzip. Trailing NUL padding after the last member is tolerated, like gzip(1).

    zlib drops the output of a call that fails, and some damage is only reported late (a
    bad CRC after the whole member, garbage that zlib inflates for a while). So compressed
    input is fed in pieces of :data:`GZIP_PIECE` bytes, each call made on a decompressor
    whose copy was saved before it; when a call fails, its input is inflated again from the
    copy one byte at a time, which recovers everything before the damage. Output is
    gathered into chunks of about CHUNK bytes; each call's output is capped at CHUNK, so a
    decompression bomb stays bounded.
    """
    d = zlib.decompressobj(wbits=31)
    started = False  # the current decompressor has been fed part of a member
    out: list[bytes] = []  # output not yet yielded
    size = 0
    for buf in raw:
        pos = 0
        while pos < len(buf):
            data = buf[pos : pos + GZIP_PIECE]
            pos += len(data)
            if not started:
                if not data.strip(b"\0"):
                    continue  # NUL padding after a member
                started = True
            while True:
                saved = d.copy()
                try:
                    piece = d.decompress(data, CHUNK)
                except zlib.error as exc:
                    out.append(sniff.inflate_until_error(saved, data))
                    rest = b"".join(out)
                    if rest:
                        yield rest
                    raise _CorruptGzip(str(exc)) from None
                if piece:
                    out.append(piece)
                    size += len(piece)
                    if size >= CHUNK:
                        yield b"".join(out)
                        out, size = [], 0
                if d.eof:  # end of one member; what follows may be another member
                    pos -= len(d.unused_data)  # a suffix of this piece: read on from there
                    d = zlib.decompressobj(wbits=31)
                    started = False
                    break
                data = d.unconsumed_tail
                # Output capped with the input used up: drain what zlib still holds.
                if not data and len(piece) < CHUNK:
                    break
    if out:
        yield b"".join(out)
    if started:
        yield from _unfinished_member(d)


def _unfinished_member(d: Any) -> Iterator[bytes]:
    """What a decompressor still holds of a member the input ended inside; then
    _CorruptGzip."""
    try:
        tail = d.flush()
    except zlib.error:
        tail = b""
    if tail:
        yield tail
    raise _CorruptGzip("compressed stream ended before the end-of-stream marker")


def _content_chunks(path: str, f, progress: Progress) -> Iterator[bytes]:
    raw = _file_chunks(f, progress)
    first = next(raw, b"")
    if not first:
        return
    if sniff.starts_gzip(first):

        def _again() -> Iterator[bytes]:
            yield first
            yield from raw

        yield from _gunzip(_again())
        return
    yield first
    yield from raw


# --------------------------------------------------------------------------- lines


def _too_long(size: int | None = None) -> Rejected:
    what = f"over {MAX_LINE} bytes" if size is None else f"{size} bytes"
    return Rejected("line too long", f"{what} (limit {MAX_LINE}); not parsed")


def _capped(lines: list, limit: int) -> list[bytes | Rejected]:
    """The lines, those over ``limit`` bytes rejected."""
    return [line if len(line) <= limit else _too_long(len(line)) for line in lines]


def _carried(tail: bytes, limit: int) -> tuple[list[bytes], int, bool]:
    """The unfinished last line of a chunk, carried to the next: (its pieces, their
    length, whether it is already over ``limit`` and is being skipped)."""
    if not tail:
        return [], 0, False
    if len(tail) > limit:
        return [], 0, True
    return [tail], len(tail), False


def iter_line_blocks(chunks: Iterator[bytes]) -> Iterator[list[bytes | Rejected]]:
    """Split chunks into lines, one list per chunk read (possibly empty chunks skipped).

    Lines are numbered consecutively from 1 across the blocks: every item is one line
    (blank ones included). Over-long lines are streamed past and given as a Rejected; a
    corrupt or truncated gzip stream ends the blocks with one Rejected for the unfinished
    line. The line boundaries depend only on the bytes and the chunk boundaries, so reading
    a line-aligned byte range with chunks cut at the same absolute offsets (multiples of
    CHUNK) gives the very same lines as reading the whole file.
    """
    pending: list[bytes] = []  # pieces of the current, unfinished line
    pending_len = 0
    skipping = False  # inside an over-long line: drop bytes until the next newline
    limit = MAX_LINE
    try:
        for chunk in chunks:
            head: list[bytes | Rejected] = []
            if skipping:
                i = chunk.find(b"\n")
                if i < 0:
                    continue
                head.append(_too_long())
                skipping = False
                chunk = chunk[i + 1 :]
            if b"\n" not in chunk:
                if not chunk:  # an over-long line ended the chunk: nothing is pending
                    if head:
                        yield head
                    continue
                pending.append(chunk)
                pending_len += len(chunk)
                if pending_len > limit:
                    pending, pending_len, skipping = [], 0, True
                if head:
                    yield head
                continue
            lines: list[bytes | Rejected] = chunk.split(b"\n")  # type: ignore[assignment]
            size = len(chunk)
            if pending:  # the unfinished line ends in this chunk's first line
                pending.append(lines[0])  # type: ignore[arg-type]
                lines[0] = b"".join(pending)
                size += pending_len
                pending, pending_len = [], 0
            tail = lines.pop()
            if size > limit:  # only then can a line in it be too long
                lines = _capped(lines, limit)
            yield head + lines if head else lines
            pending, pending_len, skipping = _carried(tail, limit)
    except _CorruptGzip as exc:
        # The unfinished line (if any) is lost with the stream: it is the rejected record.
        yield [Rejected("corrupt gzip", str(exc))]
        return
    if skipping:
        yield [_too_long()]
    elif pending:
        yield [b"".join(pending)]


def _iter_lines(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes | Rejected]]:
    """Split chunks into lines (1-based numbers). Over-long lines are streamed past."""
    lineno = 0
    for block in iter_line_blocks(chunks):
        for line in block:
            lineno += 1
            yield lineno, line


def _snippet(line: bytes) -> str:
    return truncated_repr(line[:80])


def parse_line(line: bytes) -> Any:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected("invalid UTF-8", f"byte {exc.start}: {_snippet(line)}")
    try:
        return json.loads(text)
    except RecursionError:
        return Rejected("invalid JSON", "nested too deeply")
    except ValueError as exc:  # JSONDecodeError, and over-long integers
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:80]
        return Rejected("invalid JSON", f"{msg}: {_snippet(line)}")


def record_lines(chunks: Iterator[bytes]) -> Iterator[tuple[int, bytes | Rejected]]:
    """Non-blank lines (BOM removed from line 1), or the reader's rejections."""
    for number, line in _iter_lines(chunks):
        if isinstance(line, Rejected):
            yield number, line
            continue
        if number == 1 and line.startswith(BOM):
            line = line[3:]
        if not line.strip(WHITESPACE):
            continue  # blank lines are not records
        yield number, line


_TEXT_WS = " \t\r\n\f\v"


def _text_line(line: bytes) -> TextLine | Rejected:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Rejected("invalid UTF-8", f"byte {exc.start}: {_snippet(line)}")
    return TextLine(text.strip(_TEXT_WS))


def _json_lines(path: str, chunks: Iterator[bytes]) -> Iterator[tuple[str, int, Any]]:
    """JSON lines; or text lines when none of the first TEXT_PROBE records is a JSON object.

    Only a JSON object is evidence of JSON lines (every record format reads objects): a
    text line that happens to be a JSON scalar or array (``2``, ``null``, ``[]``, a cut
    line) does not turn a text file into JSON. Until the first JSON object (or TEXT_PROBE
    records) the undecided lines are held: their bytes and parse results, at most
    TEXT_PROBE lines (the same bound as the ingest lookahead, which holds that many parsed
    records anyway). A file read as JSON lines gives every held line its JSON value, as
    before; a file with no object but some text reads all its lines as text.
    """
    lines = record_lines(chunks)
    held: list[tuple[int, bytes | Rejected, Any]] = []
    text = False
    for number, line in lines:
        parsed = line if isinstance(line, Rejected) else parse_line(line)
        if type(parsed) is dict:
            break  # JSON: held lines keep their JSON values (or rejections)
        held.append((number, line, parsed))
        if len(held) >= TEXT_PROBE:
            text = True
            break
    else:
        number = 0
        text = True  # the file ended before any JSON object
    if text and any(
        isinstance(line, bytes) and isinstance(p, Rejected) and p.reason == "invalid JSON"
        for _, line, p in held
    ):
        for n, line, p in held:
            yield path, n, _text_line(line) if isinstance(line, bytes) else p
        for n, line in lines:
            yield path, n, _text_line(line) if isinstance(line, bytes) else line
        return
    for n, _, p in held:
        yield path, n, p
    if not text:
        yield path, number, parsed
    for n, line in lines:
        yield path, n, line if isinstance(line, Rejected) else parse_line(line)


# --------------------------------------------------------------------------- JSON text


_SCAN_VALUE = re.compile(r'["{}\[\],]')
_SCAN_STRING = re.compile(r'["\\]')
#: What ``surrogateescape`` decoding makes of a byte that is not UTF-8.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_JSON_WS = " \t\r\n\ufeff"
_DECODER = json.JSONDecoder()


def _incomplete(exc: ValueError, available: int) -> bool:
    """Could this decode error go away with more input? (Errors far before the end of the
    buffered text cannot, except an unterminated string, reported at its start.)"""
    if not isinstance(exc, json.JSONDecodeError):
        return False  # e.g. an integer with too many digits
    return exc.msg.startswith("Unterminated string") or exc.pos + 64 >= available


class _Text:
    """The decoded text of a stream of byte chunks, read on demand: the buffer of the
    readers of JSON that is not one value per line (one array, a stream of objects).

    ``text[pos:]`` is not consumed yet; :meth:`more` appends the next chunk and drops the
    text before ``pos``. ``errors="strict"`` ends the text before the first byte that is not
    UTF-8 (``corrupt`` says so, as it does for a corrupt gzip stream);
    ``"surrogateescape"`` keeps such bytes as lone surrogates (:data:`_ESCAPED_BYTE`,
    ``escaped`` is then set) for the reader to reject just the value holding them.

    Lines are counted as the reader moves on (:meth:`line`): ``lines`` newlines come before
    ``text[mark]``, and ``mark`` never passes ``pos``.
    """

    def __init__(self, chunks: Iterator[bytes], errors: str = "strict") -> None:
        self.chunks = chunks
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors)
        self.escapes = errors == "surrogateescape"
        self.text = ""
        self.pos = 0
        self.eof = False
        self.corrupt: str | None = None
        self.escaped = False
        self.lines = 0
        self.mark = 0

    def more(self) -> bool:
        """Read the next chunk (False at the end of the input, or of its readable part)."""
        if self.eof:
            return False
        try:
            chunk = next(self.chunks)
        except StopIteration:
            self.eof = True
            try:
                decoded = self.decoder.decode(b"", final=True)
            except UnicodeDecodeError:
                self.corrupt = "invalid UTF-8"
                return False
            if not decoded:
                return False
        except _CorruptGzip as exc:
            self.eof = True
            self.corrupt = f"corrupt gzip: {exc}"
            return False
        else:
            try:
                decoded = self.decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                # Keep the valid text before the bad byte: values ending there still count.
                self.eof = True
                self.corrupt = f"invalid UTF-8: {exc.reason}"
                decoded = exc.object[: exc.start].decode("utf-8", "replace")
                if not decoded:
                    return False
        if self.escapes and not self.escaped and _ESCAPED_BYTE.search(decoded):
            self.escaped = True
        text, pos = self.text, self.pos
        self.lines += text.count("\n", self.mark, pos)
        self.mark = 0
        self.text = text[pos:] + decoded
        self.pos = 0
        return True

    def line(self, p: int) -> int:
        """The 1-based line of ``text[p]`` (``p`` at or after the previous one asked)."""
        self.lines += self.text.count("\n", self.mark, p)
        self.mark = p
        return self.lines + 1

    def line_of(self, p: int) -> int:
        """The 1-based line of ``text[p]``, the mark left where it is."""
        return self.lines + self.text.count("\n", self.mark, p) + 1

    def skip_ws(self) -> str:
        """The next non-whitespace character ('' at the end of input), ``pos`` on it."""
        while True:
            text, pos = self.text, self.pos
            n = len(text)
            while pos < n and text[pos] in _JSON_WS:
                pos += 1
            self.pos = pos
            if pos < n:
                return text[pos]
            if not self.more():
                return ""

    def skip_value(self) -> bool:
        """Move past the JSON value at ``pos`` without decoding it, dropping its text as
        it streams by. False when the input ends inside it."""
        depth = 0
        in_string = False
        i = self.pos
        while True:
            text = self.text
            m = (_SCAN_STRING if in_string else _SCAN_VALUE).search(text, i)
            if m is not None:
                ch = m.group()
                if in_string:
                    if ch == "\\":
                        if m.end() < len(text):
                            i = m.end() + 1  # skip the escaped character
                            continue
                        i = m.start()  # the escaped character is in the next chunk
                    else:
                        in_string = False
                        i = m.end()
                        if depth == 0:
                            self.pos = i
                            return True
                        continue
                elif ch == '"':
                    in_string = True
                    i = m.end()
                    continue
                elif ch in "{[":
                    depth += 1
                    i = m.end()
                    continue
                elif ch in "}]" and depth > 0:
                    depth -= 1
                    i = m.end()
                    if depth == 0:
                        self.pos = i
                        return True
                    continue
                elif depth == 0:  # ',' or ']' ends a bare scalar
                    self.pos = m.start()
                    return True
                else:
                    i = m.end()
                    continue
            else:
                i = len(text)
            self.pos = i
            if not self.more():
                return False
            i = self.pos

    def resync(self, start: int) -> None:
        """Move to the next line after ``text[start]`` that starts with ``{`` (to the end
        of the input when there is none), dropping the text in between as it streams by."""
        i = start + 1
        while True:
            j = self.text.find("\n{", i)
            if j >= 0:
                self.pos = j + 1
                return
            # Keep the last character: a newline there may start "\n{" with the next chunk.
            self.pos = max(len(self.text) - 1, self.pos)
            if not self.more():
                self.pos = len(self.text)
                return
            i = self.pos

    def escaped_in(self, start: int, end: int) -> bool:
        """Does ``text[start:end]`` hold a byte that was not UTF-8?"""
        return self.escaped and _ESCAPED_BYTE.search(self.text, start, end) is not None


# --------------------------------------------------------------------------- JSON array


class _ArrayBroken(Exception):
    """The array ends here with one rejection: ``reason`` and ``detail``, or (reason None)
    the damage of the stream itself (``_Text.corrupt``)."""

    def __init__(self, reason: str | None = None, detail: str = "") -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


def _array_element(s: _Text, raw_decode: Callable) -> tuple[Any, int]:
    """Decode the element at ``s.pos``, reading on while it is incomplete: (value, end),
    end -1 for an element too long to decode. _ArrayBroken when it cannot be read."""
    while True:
        try:
            value, end = raw_decode(s.text, s.pos)
        except RecursionError:
            raise _ArrayBroken("invalid JSON", "nested too deeply") from None
        except ValueError as exc:
            if _incomplete(exc, len(s.text)):
                if len(s.text) - s.pos > MAX_LINE:
                    return None, -1
                if s.more():
                    continue
            if s.corrupt is not None:
                raise _ArrayBroken() from None
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
            raise _ArrayBroken(
                "invalid JSON", f"{msg[:80]}: {s.text[s.pos : s.pos + 60]!r}"
            ) from None
        if end == len(s.text) and s.more():
            continue  # a number could continue in the next chunk: decode again
        return value, end


def _step_over(s: _Text, end: int) -> Rejected | None:
    """An array element over MAX_LINE, like an over-long line: rejected and stepped over
    (unparsed when it did not fit, ``end`` -1). None when the input ends inside it."""
    if end < 0 and not s.skip_value():
        return None
    if end >= 0:
        s.pos = end
    return Rejected("line too long", f"array element over {MAX_LINE} bytes")


def _json_array(path: str, chunks: Iterator[bytes]) -> Iterator[tuple[str, int, Any]]:
    """Stream the elements of one top-level JSON array, one at a time.

    Structural damage (truncation, a syntax error, invalid UTF-8) ends the file with one
    rejected record at the element where it happened; elements before it are kept. An
    element over MAX_LINE is rejected and stepped over without being decoded.
    """
    s = _Text(chunks)
    raw_decode = _DECODER.raw_decode
    index = 0

    def fail(reason: str | None = None, detail: str = "") -> tuple[str, int, Rejected]:
        if reason is None:  # the stream's own damage, else a truncated array
            if s.corrupt is not None:
                reason, _, detail = s.corrupt.partition(": ")
            else:
                reason, detail = "invalid JSON", "JSON array ends before its closing ']'"
        return path, index + 1, Rejected(reason, detail)

    if s.skip_ws() != "[":
        yield fail("invalid JSON", "expected a JSON array")
        return
    s.pos += 1
    expect_value = True  # after '[' or ','
    first = True
    while True:
        c = s.skip_ws()
        if c == "":
            yield fail()
            return
        if c == "]" and (first or not expect_value):
            s.pos += 1
            break
        if not expect_value:
            if c != ",":
                yield fail("invalid JSON", f"expected ',' or ']' in the array, got {c!r}")
                return
            s.pos += 1
            expect_value = True
            continue
        try:
            value, end = _array_element(s, raw_decode)
        except _ArrayBroken as exc:
            yield fail(exc.reason, exc.detail)
            return
        index += 1
        if end < 0 or end - s.pos > MAX_LINE:
            rejected = _step_over(s, end)
            if rejected is None:
                yield path, index, _too_long()
                return
            yield path, index, rejected
        else:
            s.pos = end
            yield path, index, value
        expect_value = False
        first = False
    # After the closing bracket only whitespace may follow.
    c = s.skip_ws()
    if c:
        yield fail("invalid JSON", f"data after the JSON array: {s.text[s.pos : s.pos + 60]!r}")
    elif s.corrupt is not None:
        yield fail()


# --------------------------------------------------------------------------- object stream


def _line_start(text: str, pos: int, size: int) -> str:
    """At most ``size`` characters of ``text`` from ``pos``, up to the end of that line."""
    return text[pos : pos + size].split("\n", 1)[0]


def _cut_short(exc: ValueError, text: str) -> bool:
    """Did decoding fail because ``text`` (all the input there is) ends inside the value?"""
    if not isinstance(exc, json.JSONDecodeError):
        return False
    return exc.msg.startswith("Unterminated string") or exc.pos >= len(text.rstrip(_JSON_WS))


def _between_objects(s: _Text, start: int) -> Rejected:
    """What is between two objects (up to the next line that starts with ``{``), rejected
    and stepped over."""
    got = _line_start(s.text, start, 60)
    bad = s.escaped_in(start, start + len(got))
    s.resync(start)
    if bad:
        return Rejected("invalid UTF-8", f"between JSON objects: {got!r}")
    return Rejected("invalid JSON", f"expected a JSON object: {got!r}")


def _cut_short_object(s: _Text, start: int) -> Rejected:
    """The input ends inside the object at ``start``."""
    if s.corrupt is not None:
        reason, _, detail = s.corrupt.partition(": ")
    elif s.escaped_in(start, len(s.text)):
        reason, detail = "invalid UTF-8", "in a JSON object cut short"
    else:
        reason, detail = "invalid JSON", "the input ends inside this JSON object"
    return Rejected(reason, detail)


def _bad_object(s: _Text, exc: ValueError, start: int) -> Rejected:
    """The object at ``start`` is not valid JSON: the rejection, reading resumed at the
    next line that starts with ``{``."""
    at = exc.pos if isinstance(exc, json.JSONDecodeError) else start
    if s.escaped_in(start, at + 1):
        reason, detail = "invalid UTF-8", f"in the JSON object (line {s.line_of(at)})"
    else:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f"line {s.line_of(at)}: {_line_start(s.text, at, 40)!r}"
        reason, detail = "invalid JSON", f"{msg[:80]} at {where}"
    s.resync(start)
    return Rejected(reason, detail)


def _json_objects(path: str, chunks: Iterator[bytes]) -> Iterator[tuple[str, int, Any]]:
    """Stream the JSON objects of an object stream (pretty-printed over several lines, or
    back to back), one at a time, each numbered with the line where it starts.

    An object that cannot be read is one rejected record at its first line: invalid JSON
    (the detail names the line of the error), bytes that are not UTF-8 in it, or over
    MAX_LINE (stepped over without being decoded); reading resumes at the next line that
    starts with ``{``. Anything else between objects (up to such a line) is one rejected
    record too. An object the input ends inside ends the file with one rejection (``corrupt
    gzip`` when the stream broke there).
    """
    s = _Text(chunks, "surrogateescape")
    raw_decode = _DECODER.raw_decode
    while True:
        c = s.skip_ws()
        if c == "":
            if s.corrupt is not None:  # the gzip stream broke between two objects
                reason, _, detail = s.corrupt.partition(": ")
                yield path, s.line(s.pos), Rejected(reason, detail)
            return
        start = s.pos
        number = s.line(start)
        if c != "{":
            yield path, number, _between_objects(s, start)
            continue
        while True:  # decode the object, reading on while it is incomplete
            try:
                value, end = raw_decode(s.text, start)
            except RecursionError:
                s.resync(start)
                yield path, number, Rejected("invalid JSON", "nested too deeply")
                break
            except ValueError as exc:
                if _incomplete(exc, len(s.text)) and not s.eof:
                    if len(s.text) - start > MAX_LINE:
                        # Like an over-long line: stepped over without being decoded.
                        whole = s.skip_value()
                        detail = f"JSON object over {MAX_LINE} bytes; not parsed"
                        yield path, number, Rejected("line too long", detail)
                        if not whole:
                            return
                        break
                    if s.more():
                        start = s.pos
                        continue
                if s.eof and _cut_short(exc, s.text):
                    yield path, number, _cut_short_object(s, start)
                    return
                yield path, number, _bad_object(s, exc, start)
                break
            if end - start > MAX_LINE:
                yield path, number, Rejected("line too long", f"JSON object over {MAX_LINE} bytes")
            elif s.escaped_in(start, end):
                yield path, number, Rejected("invalid UTF-8", "in a string of the JSON object")
            else:
                yield path, number, value
            s.pos = end
            break


# --------------------------------------------------------------------------- records


def _array_line_first(head: list[bytes], chunks: Iterator[bytes]) -> bool:
    """Is the ``[`` that starts the content a line of its own kind, not a JSON array file?

    True when the first line is a complete JSON array holding no object (``[]``, ``[1]``:
    no record in it) and more content follows: e.g. a cut line at the top of a text file.
    Looks at the buffered ``head`` (reading at most one more chunk into it when the first
    line ends exactly at its end); a first line longer than that stays an array file.
    """
    data = b"".join(head)
    if data.startswith(BOM):
        data = data[3:]
    data = data.lstrip(WHITESPACE)
    end = data.find(b"\n")
    if end < 0 or b"{" in data[:end]:
        return False  # no complete first line, or maybe an object in it: an array file
    try:
        value = json.loads(data[:end])
    except (ValueError, RecursionError):
        return False  # e.g. "[" alone: the start of a pretty-printed array
    if type(value) is not list:
        return False
    if data[end + 1 :].strip(WHITESPACE):
        return True
    more = next(chunks, b"")
    if more:
        head.append(more)
    return bool(more.strip(WHITESPACE))


def _object_stream(head: list[bytes], chunks: Iterator[bytes]) -> tuple[bool, Any]:
    """Is content that starts with ``{`` a stream of JSON objects, not JSON lines?

    True when the first line starts an object that it does not finish and the next
    non-blank line carries on with a key or the closing brace (``"key": ...`` or ``}``:
    pretty-printed), or when the first line holds an object followed by another one
    (``{..}{..}``). A first line that is one object, or is damaged (a cut record followed
    by JSON lines, a garbage line), keeps the file JSON lines. Reads into ``head`` until the
    first line and the start of the next one are there, at most :data:`PROBE_BYTES`. Also
    returns the ``_CorruptGzip`` that stopped the reading, if any (decided on what came
    before it; the caller raises it after replaying ``head``).
    """
    corrupt = None
    buf = bytearray().join(head)
    begin = 3 if buf.startswith(BOM) else 0
    while begin < len(buf) and buf[begin] in WHITESPACE:
        begin += 1
    newline = -1  # end of the first line
    after = -1  # first non-blank byte after it
    scanned = begin
    while True:
        if newline < 0:
            newline = buf.find(b"\n", scanned)
            scanned = len(buf) if newline < 0 else newline + 1
        if newline >= 0:
            while scanned < len(buf) and buf[scanned] in WHITESPACE:
                scanned += 1
            if scanned < len(buf):
                after = scanned
                break
        if len(buf) - begin >= PROBE_BYTES:
            break
        try:
            more = next(chunks, b"")
        except _CorruptGzip as exc:
            corrupt = exc
            break
        if not more:
            break
        head.append(more)
        buf += more
    first = bytes(buf[begin : newline if newline >= 0 else len(buf)]).decode("utf-8", "replace")
    try:
        _, stop = _DECODER.raw_decode(first)
    except RecursionError:
        return False, corrupt
    except ValueError as exc:
        if not isinstance(exc, json.JSONDecodeError):
            return False, corrupt
        cut = exc.msg.startswith("Unterminated string") or exc.pos >= len(first.rstrip())
        return cut and after >= 0 and buf[after] in b'"}', corrupt
    return first[stop:].lstrip(" \t\r").startswith("{"), corrupt


def content_mode(path: str, f, progress: Progress = None) -> tuple[str, Iterator[bytes]]:
    """How a record file is laid out, and its content as byte chunks from the start.

    ``f`` is the file opened in binary mode at offset 0. Returns ``("array", chunks)`` when
    the first non-blank content (after a UTF-8 BOM) is ``[``, ``("objects", chunks)`` for a
    stream of JSON objects that is not JSON lines (see :func:`_object_stream`), else
    ``("lines", chunks)``; ``chunks`` replays what was looked at, decompressed when the file
    is gzip. A corrupt gzip stream surfaces as ``_CorruptGzip`` from ``chunks``, after what
    could be read.
    """
    chunks = _content_chunks(path, f, progress)
    head: list[bytes] = []
    mode = "lines"
    lead = b""
    corrupt_early: _CorruptGzip | None = None
    start = b""  # the first bytes of the file, to spot a BOM split over chunks
    try:
        for chunk in chunks:
            head.append(chunk)
            if len(start) < 3:
                start = (start + chunk)[:3]
                if len(start) < 3 and BOM.startswith(start):
                    continue
            data = chunk
            if start == BOM and len(head) <= 3:
                data = b"".join(head)[3:]
            stripped = data.lstrip(WHITESPACE)
            if stripped:
                lead = stripped[:1]
                mode = "array" if lead == b"[" else "lines"
                break
        if mode == "array" and _array_line_first(head, chunks):
            mode = "lines"
        elif lead == b"{":
            objects, corrupt_early = _object_stream(head, chunks)
            if objects:
                mode = "objects"
    except _CorruptGzip as exc:
        corrupt_early = exc

    def replay() -> Iterator[bytes]:
        yield from head
        if corrupt_early is not None:
            raise corrupt_early
        yield from chunks

    return mode, replay()


def iter_records(path: str, progress: Progress = None) -> Iterator[tuple[str, int, Any]]:
    """``(path, record_number, raw)`` for every record of one record file (see module doc).

    ``progress(n)`` is called with the number of bytes read from disk since the last call.
    Raises InputError only when the file cannot be opened or read at the OS level.
    """
    with open_input(path) as f:
        try:
            mode, chunks = content_mode(path, f, progress)
            if mode == "array":
                yield from _json_array(path, chunks)
            elif mode == "objects":
                yield from _json_objects(path, chunks)
            else:
                yield from _json_lines(path, chunks)
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
