"""Generic flows: any CSV or Parquet file with the documented column mapping.

The mapping, the accepted spellings and what is rejected are in ``docs/generic-format.md``;
this module is its implementation. It is a *whole-file* format (like ``parquet``): the file is
streamed by :func:`iter_batches`, which fills the record accounting itself, rather than handed
record by record to a parser.

* CSV: UTF-8 (a BOM is fine), optionally gzip-compressed, one header line, comma-separated,
  standard quoting. Read with ``pyarrow.csv.open_csv`` in 1 MiB blocks, every column as raw
  bytes, so memory stays bounded and one bad cell costs one row, never the file (also a
  row of binary garbage; gzip damage ends the file after the last complete row before it,
  see :class:`_CSVInput`).
  ``source_record`` is the physical line number (the header is line 1), also after quoted
  values that span lines (see :class:`_Lines`).
* Parquet that is *not* a flow table written by ``ingest`` but has the mapped columns (typed
  columns are accepted: integers, timestamps, booleans, maps for labels). ``source_record`` is
  the 1-based row number.

Detection (:func:`claims`): a record file whose first line is a CSV header naming the required
columns, or a Parquet file that lacks the flow-table columns but has the required ones.

This module also holds the value parsers (names, addresses, ports, labels, times) that the
``antrea`` and ``gadget`` readers share: each raises :class:`~recommender.ingest.common.Bad`
with a rejection reason and a detail that names the field, and accepts any Python value
without raising anything else.
"""

from __future__ import annotations

import codecs
import csv
import zlib
from collections.abc import Callable, Iterable, Iterator
from heapq import heappop, heappush
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from recommender.accounting import RecordCounts
from recommender.ingest import remote, sniff, sources
from recommender.ingest.common import (
    RECORD_ERRORS,
    Bad,
    RecordParser,
    invalid,
    malformed,
)
from recommender.ingest.errors import InputError
from recommender.ingest.parquet import open_parquet
from recommender.ingest.sources import Rows, new_row
from recommender.ingest.values import (
    family,
    file_mtime_ns,
    ip,
    labels,
    namespace,
    node_name,
    pod_name,
    port,
    protocol,
    text,
    time_ns,
    uint,
)
from recommender.schema import ADDED_COLUMNS, ENDPOINT_KINDS, FLOW_SCHEMA, SCHEMA_VERSION
from recommender.validate import truncated_repr

NAME = "generic"

#: Every column the mapping knows (lower case; header names match case-insensitively).
COLUMNS = (
    "time",
    "time_end",
    "src_ip",
    "src_port",
    "src_namespace",
    "src_pod",
    "src_labels",
    "src_kind",
    "dst_ip",
    "dst_port",
    "dst_namespace",
    "dst_pod",
    "dst_labels",
    "dst_kind",
    "protocol",
    "verdict",
    "is_reply",
    "flows",
    "observer",
)
#: CSV bytes parsed per block; a CSV line longer than this ends the file (one rejection).
BLOCK_SIZE = 1 << 20
#: Bytes of a file inspected to find a CSV header.
HEADER_BYTES = 64 * 1024
#: Compressed bytes per zlib call when a CSV is gunzipped here (see :class:`_CSVInput`).
_GZIP_PIECE = 16 * 1024
#: U+FFFD in UTF-8: what _CSVInput puts in place of bytes that are not UTF-8.
_REPLACEMENT = "\ufffd".encode()

# =========================================================================== the mapping

_VERDICTS = {
    "allowed": "allowed",
    "allow": "allowed",
    "accept": "allowed",
    "accepted": "allowed",
    "forwarded": "allowed",
    "permit": "allowed",
    "permitted": "allowed",
    "denied": "denied",
    "deny": "denied",
    "drop": "denied",
    "dropped": "denied",
    "reject": "denied",
    "rejected": "denied",
    "block": "denied",
    "blocked": "denied",
    "audit": "audit",
    "redirected": "redirected",
    "error": "error",
    "unknown": "unknown",
}
_BOOLEANS = {
    "true": True,
    "t": True,
    "yes": True,
    "y": True,
    "1": True,
    "false": False,
    "f": False,
    "no": False,
    "n": False,
    "0": False,
}
_KINDS = frozenset(ENDPOINT_KINDS)
_POLICY_PROTOCOLS = ("TCP", "UDP", "SCTP")


def has_required(names: Iterable[str]) -> bool:
    """Do these column names (any case) carry the required columns?"""
    s = {n.strip().lower() for n in names if isinstance(n, str)}
    src = "src_ip" in s or {"src_namespace", "src_pod"} <= s
    dst = "dst_ip" in s or {"dst_namespace", "dst_pod"} <= s
    return src and dst and "dst_port" in s and "protocol" in s


def _missing_required(names: Iterable[str]) -> str:
    s = {n.strip().lower() for n in names if isinstance(n, str)}
    missing = [c for c in ("dst_port", "protocol") if c not in s]
    for side in ("src", "dst"):
        if f"{side}_ip" not in s and not {f"{side}_namespace", f"{side}_pod"} <= s:
            missing.append(f"{side}_ip (or {side}_namespace and {side}_pod)")
    return ", ".join(missing)


def _column_map(names: list[str], path: str) -> dict[str, str]:
    """Mapped column (lower case) -> the file's own column name."""
    found: dict[str, str] = {}
    for n in names:
        key = n.strip().lower() if isinstance(n, str) else None
        if key in COLUMNS:
            if key in found:
                raise InputError(f"{path}: column {key!r} appears twice in the header")
            found[key] = n
    if not has_required(found):
        raise InputError(
            f"{path}: not a generic flow file (missing columns: {_missing_required(found)}); "
            "see docs/generic-format.md"
        )
    return found


def _bool(v: Any, field: str) -> bool | None:
    if v is None:
        return None
    if type(v) is bool:
        return v
    if type(v) is int and v in (0, 1):
        return bool(v)
    s = text(v, field, 16)
    if s is None:
        return None
    out = _BOOLEANS.get(s.lower())
    if out is None:
        raise invalid("invalid is_reply", field, v)
    return out


def _endpoint(row: dict, side: str, get: Callable[[str], Any]) -> str | None:
    """Fill ``{side}_*`` from the ``{side}_*`` columns; returns the address (or None)."""
    address = ip(get(f"{side}_ip"), f"{side}_ip")
    ns = namespace(get(f"{side}_namespace"), f"{side}_namespace")
    pod = pod_name(get(f"{side}_pod"), f"{side}_pod")
    lab = labels(get(f"{side}_labels"), f"{side}_labels", pairs=True)
    kind = text(get(f"{side}_kind"), f"{side}_kind", 32)
    if pod is not None and ns is None:
        raise Bad("missing namespace", f"{side}_pod={truncated_repr(pod)} without {side}_namespace")
    if kind is not None:
        kind = kind.lower()
        if kind not in _KINDS:
            raise invalid("invalid kind", f"{side}_kind", kind)
    elif pod is not None:
        kind = "pod"
    else:
        kind = "unknown"
    if kind == "pod" and pod is None:
        raise Bad("missing endpoint", f"{side}_kind is pod but {side}_pod is empty")
    if address is None and pod is None:
        raise Bad("missing endpoint", f"neither {side}_ip nor {side}_namespace/{side}_pod is set")
    row[f"{side}_ip"] = address
    row[f"{side}_kind"] = kind
    row[f"{side}_namespace"] = ns
    row[f"{side}_pod"] = pod
    row[f"{side}_labels"] = lab
    return address


def parse_row(
    get: Callable[[str], Any], default_time: int | None, units: dict[str, str] | None = None
) -> dict:
    """One mapped row (``get(column)`` -> cell value or None) -> a FLOW_SCHEMA row dict.

    ``default_time`` stands in when the file has no ``time`` column; ``units`` fixes the
    epoch unit of a time column (Parquet timestamps arrive as int64 nanoseconds).
    """
    units = units or {}
    row = new_row()
    src_ip = _endpoint(row, "src", get)
    dst_ip = _endpoint(row, "dst", get)
    row["ip_family"] = family(src_ip, dst_ip)

    proto, number = protocol(get("protocol"), "protocol")
    row["protocol"] = proto
    row["protocol_number"] = number
    if proto in _POLICY_PROTOCOLS:
        dport = port(get("dst_port"), "dst_port")
        if dport is None:
            raise Bad("missing port", f"dst_port is empty for {proto}")
        row["dst_port"] = dport
        row["src_port"] = port(get("src_port"), "src_port")

    start = time_ns(get("time"), "time", unit=units.get("time"))
    if start is None:
        start = default_time
        if start is None:
            raise Bad("missing time", "time is empty")
    end = time_ns(get("time_end"), "time_end", unit=units.get("time_end"))
    if end is None:
        end = start
    elif end < start:
        raise Bad("invalid time", f"time_end before time ({end} < {start} ns)")
    row["time_start"] = start
    row["time_end"] = end

    verdict = text(get("verdict"), "verdict", 32)
    if verdict is None:
        row["verdict"] = "unknown"
    else:
        key = verdict.lower()
        mapped = _VERDICTS.get(key)
        if mapped is None:
            raise invalid("invalid verdict", "verdict", verdict)
        row["verdict"] = mapped
        row["verdict_raw"] = key  # the table's spelling, never arbitrary text
    reply = _bool(get("is_reply"), "is_reply")
    row["is_reply"] = bool(reply)
    flows = uint(get("flows"), "flows")
    if flows == 0:
        raise malformed("flows", 0)
    row["flows"] = flows or 1
    row["aggregated"] = row["flows"] > 1
    row["observer"] = node_name(get("observer"), "observer")
    row["reporter"] = "unknown"
    row["direction"] = "unknown"
    row["schema_version"] = SCHEMA_VERSION
    row["source_format"] = NAME
    return row


# =========================================================================== files


def _csv_header(path: str) -> list[str] | None:
    """The header of a CSV file (None when the first line is not one)."""
    try:
        head = sniff.file_head(path, HEADER_BYTES)
    except OSError:
        return None
    return _header_of(head)


def _header_of(head: bytes) -> list[str] | None:
    """The CSV header on the first line of content (None when it is not one)."""
    line = head.split(b"\n", 1)[0].rstrip(b"\r")
    try:
        decoded = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if not decoded.strip() or decoded.lstrip()[:1] in ("{", "["):
        return None
    try:
        return next(csv.reader([decoded]))
    except (csv.Error, StopIteration):
        return None


def claims(path: str) -> bool:
    """Is this a generic flow file (see the module docstring)? Never raises."""
    if sniff.is_parquet(path):
        try:
            with open_parquet(path) as pf:
                names = pf.schema_arrow.names
        except (OSError, pa.ArrowException):
            return False
        if all(n in names for n in FLOW_SCHEMA.names if n not in ADDED_COLUMNS):
            return False  # a flow table: the ``parquet`` format
        return has_required(names)
    header = _csv_header(path)
    return header is not None and has_required(header)


def claims_head(head: bytes) -> bool:
    """Would :func:`claims` take a CSV file that starts with these bytes (plain or gzip)?
    For input that cannot be opened twice (standard input)."""
    header = _header_of(sniff.content_head(head, HEADER_BYTES))
    return header is not None and has_required(header)


class _Batcher:
    """Rows (dicts from ``new_row``, schema order) -> FLOW_SCHEMA record batches of
    ``batch_size`` rows, each row naming its file and record."""

    def __init__(self, path: str, batch_size: int) -> None:
        self.path = path
        self.batch_size = batch_size
        self.rows = Rows()

    def add(self, row: dict[str, Any], number: int) -> pa.RecordBatch | None:
        row["source_file"] = self.path
        row["source_record"] = number
        self.rows.append(row)
        if len(self.rows) >= self.batch_size:
            return self.flush()
        return None

    def flush(self) -> pa.RecordBatch:
        return self.rows.flush()


def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return msg[:200] if msg else type(exc).__name__


def _add(
    batcher: _Batcher,
    counts: RecordCounts,
    path: str,
    number: int,
    get: Callable[[str], Any],
    default_time: int | None,
    units: dict[str, str] | None = None,
) -> pa.RecordBatch | None:
    try:
        row = parse_row(get, default_time, units)
    except Bad as bad:
        counts.add_rejected(path, number, bad.reason, bad.detail)
        return None
    except (*RECORD_ERRORS, OverflowError) as exc:
        counts.add_rejected(path, number, "malformed record", _one_line(exc))
        return None
    counts.add_normalized()
    return batcher.add(row, number)


def _decoded(keys: list[str], values: tuple) -> dict[str, str | None] | Bad:
    """CSV cells (bytes) as text; empty cells are None."""
    cells: dict[str, str | None] = {}
    for key, value in zip(keys, values, strict=True):
        if not value:
            cells[key] = None
            continue
        try:
            text = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return Bad("invalid UTF-8", f"{key}: byte {exc.start}: {truncated_repr(value)}")
        if "\ufffd" in text:  # an invalid byte, replaced as the file was read (_CSVInput)
            at = value.find(_REPLACEMENT)
            return Bad("invalid UTF-8", f"{key}: byte {at}: {truncated_repr(value)}")
        cells[key] = text
    return cells


class _Lines:
    """Physical line numbers for the rows of a CSV stream.

    pyarrow numbers rows as if no value contained a line break (its invalid-row numbers do
    too). Rows come out in order, so the line breaks inside the values of the rows before a
    row (counted in every column) turn its pyarrow number into its physical line. Rows pyarrow
    could not split (wrong field count) are queued by their pyarrow number when it reports
    them, which is before the block they belong to is handed out, and are placed, counted and
    reported in file order as the valid rows around them are numbered.
    """

    def __init__(self, path: str, counts: RecordCounts) -> None:
        self.path = path
        self.counts = counts
        self.number = 1  # pyarrow's number of the last row placed (the header is 1)
        self.offset = 0  # line breaks inside the values placed so far
        self.invalid: list[tuple[int, int, Any]] = []  # (pyarrow number, seq, row)
        self.seq = 0

    def on_invalid(self, row: Any) -> str:
        self.seq += 1
        number = row.number if row.number is not None else self.number + 1
        heappush(self.invalid, (number, self.seq, row))
        return "skip"

    def _place_invalid(self) -> None:
        number, _, row = heappop(self.invalid)
        text = row.text or ""
        if text.strip():  # a blank line is not a record
            self.counts.add_rejected(
                self.path,
                number + self.offset,
                "malformed record: column count",
                f"{row.actual_columns} fields, header has {row.expected_columns}: "
                f"{truncated_repr(text, 80)}",
            )
        self.offset += text.count("\n")

    def next_row(self) -> int:
        """The physical line of the next valid row."""
        self.number += 1
        while self.invalid and self.invalid[0][0] <= self.number:
            taken = self.invalid[0][0] == self.number
            self._place_invalid()
            if taken:
                self.number += 1
        return self.number + self.offset

    def breaks(self, n: int) -> None:
        """The row just placed had ``n`` line breaks inside its values."""
        self.offset += n

    def finish(self) -> int:
        """Place the remaining invalid rows; returns the next physical line."""
        while self.invalid:
            self.number = max(self.number, self.invalid[0][0])
            self._place_invalid()
        return self.number + self.offset + 1


class _CSVInput:
    """The bytes of a CSV file as pyarrow's CSV reader gets them (a Python file object).

    * Invalid UTF-8 is replaced by U+FFFD, so that a garbage row with the wrong field count
      reaches the invalid-row handler (pyarrow decodes that row's text strictly and, when it
      cannot, fails the whole read); a cell with U+FFFD is rejected as ``invalid UTF-8``.
    * gzip is inflated here, in small pieces, so that damage (truncation, garbage, a bad CRC)
      ends the content cleanly after the last complete line before it: those rows are read,
      and :attr:`error` says what happened (the caller reports one rejected record). The
      unfinished line cut by the damage is never handed out, so no row is read truncated.
      Output is bounded per step (a decompression bomb cannot blow up memory).
    """

    def __init__(self, raw: Any, gz: bool) -> None:
        self.raw = raw
        self.inflate = zlib.decompressobj(wbits=31) if gz else None
        self.member = False  # inside a gzip member
        self.feed = b""  # compressed bytes read, from ``pos`` on not yet inflated
        self.pos = 0
        self.decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.buf = bytearray()  # ready for pyarrow
        self.held = bytearray()  # gzip: the unfinished last line, until it is complete
        self.done = False
        self.error: str | None = None
        self.closed = False

    # -- the file object pyarrow reads
    def read(self, n: int = -1) -> bytes:
        while (n < 0 or len(self.buf) < n) and not self.done:
            self._produce()
        if n < 0 or n > len(self.buf):
            n = len(self.buf)
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.closed = True

    # -- producing content
    def _produce(self) -> None:
        if self.inflate is None:
            data = self.raw.read(BLOCK_SIZE)
            self.done = not data
        else:
            data = self._inflated()
        if self.decoder.getstate()[0] or not data.isascii():
            data = self.decoder.decode(data, self.done).encode("utf-8")
        if self.inflate is None:
            self.buf += data
            return
        self.held += data
        if self.done and self.error is None:
            cut = len(self.held)
        else:
            cut = self.held.rfind(b"\n") + 1
            if cut == 0 and len(self.held) > 2 * BLOCK_SIZE:
                cut = len(self.held)  # an over-long line: pyarrow reports it
        if cut:
            self.buf += self.held[:cut]
            del self.held[:cut]
        if self.done:
            self.held.clear()  # the unfinished line the damage cut, lost with the stream

    def _inflated(self) -> bytes:
        """The next piece of gunzipped content (b"" once done; sets :attr:`error`)."""
        d = self.inflate
        while True:
            if d.unconsumed_tail:
                data = d.unconsumed_tail
            else:
                if self.pos >= len(self.feed):
                    self.feed, self.pos = self.raw.read(BLOCK_SIZE), 0
                    if not self.feed:
                        return self._end()
                data = self.feed[self.pos : self.pos + _GZIP_PIECE]
                self.pos += len(data)
                self.member = True
            saved = d.copy()
            try:
                out = d.decompress(data, BLOCK_SIZE)
            except zlib.error as exc:
                # zlib drops the output of the failing call: inflate the piece again byte
                # by byte, up to the damage (a bad CRC fails only after the last byte).
                self.done = True
                self.error = f"corrupt gzip: {exc}"
                return sniff.inflate_until_error(saved, data, 16 * BLOCK_SIZE)
            if d.eof:  # end of one member; what follows may be another member
                self.feed, self.pos = d.unused_data + self.feed[self.pos :], 0
                self.inflate = d = zlib.decompressobj(wbits=31)
                self.member = False
            if out:
                return out

    def _end(self) -> bytes:
        self.done = True
        if not self.member:
            return b""
        self.error = "corrupt gzip: compressed stream ended before the end-of-stream marker"
        try:
            return self.inflate.flush()
        except zlib.error:
            return b""


def _line_breaks(batch: pa.RecordBatch) -> Any:
    """Per row, the line breaks inside its values (all columns), as a NumPy array."""
    total = None
    for column in batch.columns:
        n = pc.count_substring(column, "\n").to_numpy(zero_copy_only=False)
        total = n if total is None else total + n
    return total


def _csv_reader(raw: Any, header: list[str], lines: _Lines) -> tuple[_CSVInput, Any]:
    """The CSV stream of an open file (gunzipped when it is gzip) and its Arrow reader;
    OSError or ArrowException when the first block cannot be read."""
    gz = raw.read(2) == sniff.GZIP_MAGIC
    raw.seek(0)
    stream = _CSVInput(raw, gz)
    import pyarrow.csv as pacsv  # on use: Hubble ingest workers never need it

    reader = pacsv.open_csv(
        stream,
        # Serial reading: the invalid-row callback runs in file order, before the block's
        # batch is handed out (what _Lines relies on). The header as parsed here names
        # the columns, so the mapping always matches.
        read_options=pacsv.ReadOptions(
            block_size=BLOCK_SIZE, use_threads=False, column_names=header, skip_rows=1
        ),
        parse_options=pacsv.ParseOptions(
            newlines_in_values=True,
            ignore_empty_lines=False,
            invalid_row_handler=lines.on_invalid,
        ),
        convert_options=pacsv.ConvertOptions(
            # Every column (raw bytes): unmapped ones are needed to count line breaks.
            column_types={n: pa.binary() for n in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )
    return stream, reader


def _block_rows(
    batch: pa.RecordBatch,
    mapping: dict[str, str],
    lines: _Lines,
    batcher: _Batcher,
    counts: RecordCounts,
    path: str,
    default_time: int | None,
) -> Iterator[pa.RecordBatch]:
    """Parse the rows of one CSV block, handing out the batcher's full batches."""
    keys = list(mapping)
    names = batch.schema.names
    columns = [batch.column(names.index(mapping[k])).to_pylist() for k in keys]
    breaks = _line_breaks(batch)
    for i, values in enumerate(zip(*columns, strict=True)):
        line = lines.next_row()
        lines.breaks(int(breaks[i]))
        if not any(values):
            continue  # a blank line (or only separators): not a record
        cells = _decoded(keys, values)
        if isinstance(cells, Bad):
            counts.add_rejected(path, line, cells.reason, cells.detail)
            continue
        out = _add(batcher, counts, path, line, cells.get, default_time)
        if out is not None:
            yield out


def _csv_batches(
    path: str,
    counts: RecordCounts,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[pa.RecordBatch]:
    header = _csv_header(path)
    if header is None:
        # (``--format generic``): no records, like any format
        if sniff.is_blank(path, HEADER_BYTES):
            return
        raise InputError(f"{path}: not a generic flow file (no CSV header line)")
    mapping = _column_map(header, path)
    default_time = file_mtime_ns(path) if "time" not in mapping else None
    lines = _Lines(path, counts)

    try:
        raw = sources.open_input(path) if remote.is_url(path) else pa.OSFile(path, "rb")
        size = sources.file_size(path)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {_one_line(exc)}") from None
    reported = 0
    try:
        stream, reader = _csv_reader(raw, header, lines)
    except (OSError, pa.ArrowException) as exc:
        # The header was readable, the first block is not (a line over BLOCK_SIZE): one
        # rejected record, like damage further on.
        raw.close()
        counts.add_rejected(path, lines.finish(), "unreadable CSV", _one_line(exc))
        return

    batcher = _Batcher(path, batch_size)
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                break
            except (OSError, pa.ArrowException) as exc:
                # Damage past this point (an over-long line): the rows before it are kept,
                # the rest of the file is one rejected record.
                counts.add_rejected(path, lines.finish(), "unreadable CSV", _one_line(exc))
                stream.error = None  # reported
                break
            yield from _block_rows(batch, mapping, lines, batcher, counts, path, default_time)
            if progress is not None:
                now = min(raw.tell(), size)
                if now > reported:
                    progress(now - reported)
                    reported = now
        end = lines.finish()
        if stream.error is not None:
            # A corrupt gzip stream: the rows before the damage were read; the line it cut
            # (and whatever followed) is one rejected record.
            counts.add_rejected(path, end, "unreadable CSV", stream.error)
    finally:
        raw.close()
    if batcher.rows:
        yield batcher.flush()
    if progress is not None and size > reported:
        progress(size - reported)


def _parquet_column(column: pa.ChunkedArray | pa.Array) -> list:
    t = column.type
    if pa.types.is_dictionary(t):
        column = column.cast(t.value_type)
        t = column.type
    if pa.types.is_timestamp(t):
        # Arrow keeps tz-aware timestamps in UTC; naive ones are read as UTC wall time.
        return column.cast(pa.timestamp("ns", tz=t.tz)).cast(pa.int64()).to_pylist()
    return column.to_pylist()


def _parquet_batches(
    path: str,
    counts: RecordCounts,
    batch_size: int,
    progress: Callable[[int], None] | None,
) -> Iterator[pa.RecordBatch]:
    try:
        pf = open_parquet(path)
        names = pf.schema_arrow.names
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"{path}: unreadable Parquet file: {_one_line(exc)}") from None
    try:
        mapping = _column_map(names, path)
        default_time = file_mtime_ns(path) if "time" not in mapping else None
        # Timestamp columns arrive as int64 nanoseconds: no unit guessing for them.
        units = {
            k: "ns"
            for k in ("time", "time_end")
            if k in mapping and pa.types.is_timestamp(pf.schema_arrow.field(mapping[k]).type)
        }
        size = sources.file_size(path)
        total = max(pf.metadata.num_rows, 1)
        batcher = _Batcher(path, batch_size)
        keys = list(mapping)
        number = done = reported = 0
        try:
            for batch in pf.iter_batches(batch_size=batch_size, columns=list(mapping.values())):
                columns = [_parquet_column(batch.column(mapping[k])) for k in keys]
                for values in zip(*columns, strict=True):
                    number += 1
                    cells = dict(zip(keys, values, strict=True))
                    out = _add(batcher, counts, path, number, cells.get, default_time, units)
                    if out is not None:
                        yield out
                done += batch.num_rows
                if progress is not None:
                    now = size * done // total
                    progress(now - reported)
                    reported = now
        except (OSError, pa.ArrowException) as exc:
            counts.add_rejected(path, number + 1, "unreadable Parquet", _one_line(exc))
        if batcher.rows:
            yield batcher.flush()
        if progress is not None and size > reported:
            progress(size - reported)
    finally:
        pf.close()


def iter_batches(
    path: str,
    counts: RecordCounts,
    *,
    batch_size: int = 50_000,
    progress: Callable[[int], None] | None = None,
) -> Iterator[pa.RecordBatch]:
    """FLOW_SCHEMA batches from one generic CSV or Parquet file, filling ``counts``.

    Raises InputError (naming the file) when the file lacks the required columns or cannot
    be opened; anything wrong inside it is a rejected record with its line.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be positive")
    if sniff.is_parquet(path):
        return _parquet_batches(path, counts, batch_size, progress)
    return _csv_batches(path, counts, batch_size, progress)


# --------------------------------------------------------------------------- registry shims


def looks_like(record: Any) -> bool:
    """Generic files are recognised whole (:func:`claims`), never from a JSON record."""
    return False


class Parser(RecordParser):
    """Only reached when ``--format generic`` is given for a JSON record file: every record
    is rejected (the generic format is CSV or Parquet, read by :func:`iter_batches`)."""

    name = NAME

    def _parse(self, record: Any) -> dict:
        raise Bad(
            "malformed record: not a CSV/Parquet row",
            "the generic format reads CSV or Parquet files (docs/generic-format.md)",
        )
