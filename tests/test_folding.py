import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from recommender.folding import (
    EXAMPLE,
    LINE_BITS,
    FoldedRows,
    Numbering,
    SourceFiles,
    recoded,
    split_examples,
)


def test_examples_rank_files_by_name_whatever_order_they_come_in():
    files = SourceFiles()
    # ranks hold until a new file comes: what is kept is numbered at once
    first = files.numbered(files.examples(pa.array(["c.json", "c.json"]), pa.array([5, 2])))
    second = files.examples(pa.array(["a.json", None, "b.json"]), pa.array([9, 1, None]))
    second = files.numbered(second)
    assert files.names == ["c.json", "a.json", "b.json"]  # numbered as they came
    ranked = files.ranked(pa.concat_arrays([first, second]))
    names, lines = split_examples(ranked, files.by_rank())
    assert list(names) == ["c.json", "c.json", "a.json", None, None]
    assert list(lines) == [5, 2, 9, None, None]
    # the minimum example is the first line of the first file by name
    assert split_examples(pa.array([pc.min(ranked).as_py()]), files.by_rank())[0][0] == "a.json"
    # ranks <-> numbers round trip
    assert files.ranked(files.numbered(ranked)).equals(ranked)


def test_recoded_changes_only_the_file_part():
    keys = pa.array([(2 << LINE_BITS) | 7, None, 11], pa.int64())
    out = recoded(keys, np.array([5, 6, 0]))
    assert out.to_pylist() == [7, None, (5 << LINE_BITS) | 11]


def test_numbering_numbers_each_distinct_row_once_and_absorbs_another():
    mine, theirs = Numbering(["a", "b"]), Numbering(["a", "b"])
    keys = pa.table({"a": ["x", "y", "x", None], "b": [1, 1, 1, None]})
    numbers = mine.number(keys).to_pylist()
    assert numbers[0] == numbers[2] and len(set(numbers)) == 3 and len(mine) == 3
    theirs.number(pa.table({"a": [None, "z"], "b": [None, 2]}))
    lut = mine.absorb(theirs)
    assert lut[0] == numbers[3] and lut[1] == 3
    assert mine.table().take(pa.array(numbers)).equals(keys)


def test_folded_rows_hold_distinct_groups_however_often_they_are_added():
    files = SourceFiles()
    rows = FoldedRows(["k"], [("n", "sum"), (EXAMPLE, "min")], files, fold_at=10)
    for i in range(200):
        example = files.examples(pa.array([f"f{i % 7}.json"] * 3), pa.array([i, 1, 2]))
        rows.add(pa.table({"k": [1, 2, 3], "n": [1, 1, 1], EXAMPLE: example}))
        assert rows.rows <= 3 + 10 + 3  # the folded groups, the floor and one batch
    table = rows.ranked_table()
    assert table.column("n").to_pylist() == [200, 200, 200]
    names, lines = split_examples(table.column(EXAMPLE).combine_chunks(), files.by_rank())
    assert list(names) == ["f0.json"] * 3 and list(lines) == [0, 1, 2]
