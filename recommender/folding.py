"""Rows folded by a key as they stream past, each group with one exact example line.

An example is one integer, ``file << LINE_BITS | line``, so that it is folded by ``min``
in the same grouping as every other figure, without a string per row. The example a
group keeps is its first line in the first file in *name* order, yet files arrive in any
order: :class:`SourceFiles` numbers them as they are first seen (numbers that never
change, so stored rows never need rewriting when a new file comes) and every grouping
recodes the numbers to ranks in name order before its ``min``, and back after it.

:class:`FoldedRows` holds one folded table plus the rows added since it was last folded;
it folds again once those pass a quarter of it (and a floor), so it holds at most about
1.25 times the distinct groups plus the floor, and folding costs at most five times the
rows added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: line numbers below 2**40; the file's number (or rank) above them
LINE_BITS = 40
#: the column of a folded table holding its examples
EXAMPLE = "example"
#: rows added before they are folded together again (more when the folded table is larger)
FOLD_AT = 50_000
_ROW = "__row"


class Numbering:
    """Distinct rows of some key columns, numbered as they come: a folded row
    holds one number instead of the columns (a connection's twelve key columns, say).
    Numbers never change, so folded rows never need rewriting."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.columns = list(columns)
        self._numbers: dict[tuple, int] = {}
        self._rows: list[tuple] = []
        self._schema: pa.Schema | None = None
        self._table: pa.Table | None = None

    def __len__(self) -> int:
        return len(self._rows)

    def number(self, keys: pa.Table) -> pa.Array:
        """The number of each row of ``keys`` (its ``columns``), new rows numbered next."""
        keys = keys.select(self.columns)
        if self._schema is None:
            self._schema = keys.schema
        rows = pa.array(np.arange(keys.num_rows, dtype=np.int64))
        groups = (
            keys.append_column(_ROW, rows)
            .group_by(self.columns, use_threads=False)
            .aggregate([(_ROW, "list")])
        )
        distinct = zip(*(groups.column(c).to_pylist() for c in self.columns), strict=True)
        found = np.fromiter((self._number(row) for row in distinct), np.int64, groups.num_rows)
        members = groups.column(f"{_ROW}_list").combine_chunks()
        out = np.empty(keys.num_rows, dtype=np.int64)
        sizes = pc.list_value_length(members).to_numpy(zero_copy_only=False)
        out[pc.list_flatten(members).to_numpy()] = np.repeat(found, sizes)
        return pa.array(out)

    def _number(self, row: tuple) -> int:
        number = self._numbers.get(row)
        if number is None:
            number = self._numbers[row] = len(self._rows)
            self._rows.append(row)
            self._table = None
        return number

    def absorb(self, other: Numbering) -> np.ndarray:
        """Number ``other``'s rows here too; returns its numbers -> numbers here."""
        if self._schema is None:
            self._schema = other._schema
        return np.asarray([self._number(row) for row in other._rows], dtype=np.int64)

    def table(self) -> pa.Table:
        """The key rows, row ``i`` numbered ``i``."""
        if self._table is None or self._table.num_rows != len(self._rows):
            assert self._schema is not None or not self._rows
            fields = self._schema or pa.schema([(c, pa.null()) for c in self.columns])
            values = list(zip(*self._rows, strict=True)) or [()] * len(self.columns)
            self._table = pa.table(
                [pa.array(v, f.type) for v, f in zip(values, fields, strict=True)],
                schema=fields,
            )
        return self._table


class SourceFiles:
    """The files examples come from, numbered in the order first seen."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self._numbers: dict[str, int] = {}
        self._ranks: np.ndarray | None = None

    def examples(self, files: pa.ChunkedArray | pa.Array, lines: pa.ChunkedArray) -> pa.Array:
        """The examples of rows (file names, line numbers), as *ranks* (see
        :meth:`ranked`): null where the file or the line is. Ranks hold until a new file
        comes: rows kept are :meth:`numbered` first (:meth:`FoldedRows.add` does)."""
        for name in pc.unique(files).to_pylist():
            if name is not None and name not in self._numbers:
                self._numbers[name] = len(self.names)
                self.names.append(name)
                self._ranks = None
        numbers = pc.index_in(files, value_set=pa.array(self.names, pa.string()))
        keys = pc.add(
            pc.shift_left(pc.cast(numbers, pa.int64()), LINE_BITS), pc.cast(lines, pa.int64())
        )
        return self.ranked(keys)

    def ranks(self) -> np.ndarray:
        """The rank in name order of each file number."""
        if self._ranks is None or len(self._ranks) != len(self.names):
            order = sorted(range(len(self.names)), key=self.names.__getitem__)
            self._ranks = np.empty(len(order), dtype=np.int64)
            self._ranks[order] = np.arange(len(order), dtype=np.int64)
        return self._ranks

    def ranked(self, keys: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """Examples with file numbers -> the same with ranks in name order."""
        return recoded(keys, self.ranks())

    def numbered(self, keys: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
        """Examples with ranks in name order -> the same with file numbers."""
        return recoded(keys, np.argsort(self.ranks()))

    def by_rank(self) -> list[str]:
        """The file names in name order (what a ranked example's file part indexes)."""
        return sorted(self.names)

    def absorb(self, other: SourceFiles) -> np.ndarray:
        """Number ``other``'s files here too; returns its numbers -> numbers here."""
        for name in other.names:
            if name not in self._numbers:
                self._numbers[name] = len(self.names)
                self.names.append(name)
                self._ranks = None
        return np.asarray([self._numbers[n] for n in other.names], dtype=np.int64)


def recoded(keys: pa.ChunkedArray | pa.Array, table: np.ndarray) -> pa.ChunkedArray | pa.Array:
    """Examples whose file part ``f`` becomes ``table[f]`` (null stays null)."""
    if np.array_equal(table, np.arange(len(table))):
        return keys
    files = pc.take(pa.array(table, pa.int64()), pc.shift_right(keys, LINE_BITS))
    lines = pc.bit_wise_and(keys, pa.scalar((1 << LINE_BITS) - 1, pa.int64()))
    return pc.add(pc.shift_left(files, LINE_BITS), lines)


def split_examples(keys: pa.Array, names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Ranked examples -> (files, lines) as object arrays, None where a key is missing;
    ``names`` in name order (:meth:`SourceFiles.by_rank`)."""
    valid = pc.is_valid(keys).to_numpy(zero_copy_only=False)
    raw = pc.fill_null(keys, 0).to_numpy(zero_copy_only=False)
    files = np.asarray([*names, None], dtype=object)[np.where(valid, raw >> LINE_BITS, -1)]
    lines = (raw & ((1 << LINE_BITS) - 1)).astype(object)
    lines[~valid] = None
    return files, lines


def grouped(table: pa.Table, key: Sequence[str], aggs: Sequence[tuple[str, str]]) -> pa.Table:
    """``table`` folded by ``key``, each aggregate keeping its column's name."""
    out = table.group_by(list(key), use_threads=False).aggregate(list(aggs))
    names = {f"{c}_{how}": c for c, how in aggs}
    return out.rename_columns([names.get(n, n) for n in out.column_names])


def with_column(table: pa.Table, name: str, values: pa.ChunkedArray | pa.Array) -> pa.Table:
    """``table`` with column ``name`` replaced by ``values``."""
    return table.set_column(table.schema.get_field_index(name), name, values)


class FoldedRows:
    """Rows folded by ``key`` (``aggs`` keeping column names), examples numbered by
    ``files``: memory holds the distinct groups, not the rows added."""

    def __init__(
        self,
        key: Sequence[str],
        aggs: Sequence[tuple[str, str]],
        files: SourceFiles,
        fold_at: int = FOLD_AT,
    ) -> None:
        self.key, self.aggs, self.files, self.fold_at = list(key), list(aggs), files, fold_at
        self._folded: pa.Table | None = None
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    @property
    def rows(self) -> int:
        """Rows held: the folded table's and those added since."""
        return (self._folded.num_rows if self._folded is not None else 0) + self._pending_rows

    def add(self, rows: pa.Table) -> None:
        """Add rows already folded by ``key`` with *ranked* examples (see
        :meth:`SourceFiles.examples`)."""
        if rows.num_rows == 0:
            return
        self._append(with_column(rows, EXAMPLE, self.files.numbered(rows.column(EXAMPLE))))

    def _append(self, rows: pa.Table) -> None:
        self._pending.append(rows)
        self._pending_rows += rows.num_rows
        folded = self._folded.num_rows if self._folded is not None else 0
        if self._pending_rows > max(self.fold_at, folded // 4):
            self.fold()

    def fold(self) -> None:
        """Fold the rows added since into the folded table."""
        if not self._pending:
            return
        parts = [self._folded, *self._pending] if self._folded is not None else self._pending
        t = pa.concat_tables(parts)
        t = with_column(t, EXAMPLE, self.files.ranked(t.column(EXAMPLE)))
        t = grouped(t, self.key, self.aggs)
        self._folded = with_column(t, EXAMPLE, self.files.numbered(t.column(EXAMPLE)))
        self._pending, self._pending_rows = [], 0

    def table(self) -> pa.Table | None:
        """Everything folded into one table (examples numbered); None when empty."""
        self.fold()
        return self._folded

    def ranked_table(self) -> pa.Table | None:
        """:meth:`table` with ranked examples (what a final grouping folds)."""
        t = self.table()
        return None if t is None else with_column(t, EXAMPLE, self.files.ranked(t[EXAMPLE]))

    def replace(self, table: pa.Table | None) -> None:
        """Hold ``table`` (from :meth:`table`) and nothing else."""
        self._folded = None if table is None or table.num_rows == 0 else table
        self._pending, self._pending_rows = [], 0

    def shift_lines(self, offset: int) -> None:
        """Add ``offset`` to every example's line."""
        shift = pa.scalar(offset, pa.int64())

        def shifted(t: pa.Table) -> pa.Table:
            return with_column(t, EXAMPLE, pc.add(t.column(EXAMPLE), shift))

        if self._folded is not None:
            self._folded = shifted(self._folded)
        self._pending = [shifted(t) for t in self._pending]

    def extend(self, other: FoldedRows, recode: Callable[[pa.Table], pa.Table]) -> None:
        """Add ``other``'s rows after these, each table through ``recode`` (its numbers,
        examples included, made this aggregator's: see :meth:`Numbering.absorb`)."""
        theirs = [other._folded] if other._folded is not None else []
        for t in [*theirs, *other._pending]:
            self._append(recode(t))
