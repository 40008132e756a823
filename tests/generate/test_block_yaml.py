"""The direct block-YAML writer gives PyYAML's pure-Python bytes, on real proposals, on real
policies from the wild and on random and hostile values (where it hands over to PyYAML)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import REAL_FLOWS, SAMPLE_FLOWS, SHARED
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender import observe, propose
from recommender.generate import block_yaml
from recommender.generate.k8s import to_yaml
from recommender.generate.kinds import OutputKind, render_files
from recommender.generate.pure_yaml import PureDumper
from recommender.options import SynthesisOptions


def pure(obj: Any) -> str:
    """The reference: PyYAML's pure-Python emitter with the policy files' options."""
    return yaml.dump(obj, Dumper=PureDumper, **block_yaml.DUMP_OPTIONS)


#: Text that YAML reads as something else, or that needs quoting, or is hostile.
TRICKY = [
    "true", "True", "FALSE", "yes", "no", "on", "off", "y", "n", "null", "Null", "~", "",
    "0123", "0x1F", "0o17", "1_000", "1e3", "1.5", ".5", ".inf", "-.inf", ".NaN", "+1",
    "-1", "12:30:00", "2026-12-07", "2026-12-07T16:00:00Z", "*", "&a", "!tag", "|", ">",
    "%x", "@x", "`x", "?", "? x", "-", "- x", "--", "---", "...", ":", "a:", "a: b", "a:b",
    "#", "a #b", "a#b", " x", "x ", "'", "'x'", '"', '"x"', "{", "}", "[", "]", ",", "a,b",
    "x\\y", "=", "<<", "\t", "a\tb", "a\nb", "\r", "\x00", "\x85", "\u2028", "\ufeff",
    "é", "k8s.io/ñame", "日本", "𝐓𝐡𝐞", "Ṱ̺̺̕o͞", "x" * 122, "x" * 123, "x" * 128, "a " * 300,
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_tricky_text_as_key_value_and_item(text):
    obj = {"k": text, text: [text, {text: text, "n": [text]}], "e": {"f": [[text], {}]}}
    assert to_yaml(obj) == pure(obj)


def test_layout_of_nesting_and_empty_collections():
    obj = {
        "a": {},
        "b": [],
        "c": [[1, [2, {}]], {"d": [], "e": {"f": None}}, [], True, False, -3],
        "g": {"h": [{"i": [{"j": "k"}]}]},
    }
    assert block_yaml.dump(obj) == pure(obj)
    assert block_yaml.dump({}) == pure({}) and block_yaml.dump([]) == pure([])
    assert block_yaml.dump([{"a": 1}, [2]]) == pure([{"a": 1}, [2]])


def test_unusual_values_are_left_to_pyyaml():
    """Text the writer cannot promise PyYAML's bytes for, and floats, go to PyYAML."""
    for value in ("", "é", "a\nb", "x" * 123, 1.5, (1, 2)):
        with pytest.raises(block_yaml.NotAlike):
            block_yaml.dump({"k": [value]})
        assert to_yaml({"k": [value]}) == pure({"k": [value]})
    with pytest.raises(block_yaml.NotAlike):
        block_yaml.dump({"": 1})
    with pytest.raises(block_yaml.NotAlike):
        block_yaml.dump("text")  # type: ignore[arg-type]
    assert block_yaml.dump({"k": ["x" * 122, 0, None, True]}) == pure(
        {"k": ["x" * 122, 0, None, True]}
    )
    assert to_yaml({"k": {1, 2}}) == pure({"k": {1, 2}})  # unhashable: PyYAML writes it


_ascii = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=122)
_hostile = st.one_of(
    st.text(max_size=40),
    st.text(st.sampled_from("ab:-#'\"{}[],& *!|>%@`?01.eE+x_~ \t\n\r\\/\x85é\u2028"), max_size=12),
    st.sampled_from(TRICKY),
)
_scalars = st.one_of(_hostile, _ascii, st.integers(), st.booleans(), st.none(), st.floats())


def _trees(text: st.SearchStrategy, leaves: st.SearchStrategy) -> st.SearchStrategy:
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4), st.dictionaries(text, inner, max_size=4)
        ),
        max_leaves=25,
    )


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.dictionaries(_hostile | _ascii, _trees(_hostile | _ascii, _scalars), max_size=5))
def test_random_and_hostile_documents_match_pyyaml(obj):
    assert to_yaml(obj) == pure(obj)


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    _trees(_ascii, st.one_of(_ascii, st.integers(), st.booleans(), st.none())).filter(
        lambda tree: isinstance(tree, dict | list)
    )
)
def test_direct_writer_matches_pyyaml_on_its_whole_domain(obj):
    assert block_yaml.dump(obj) == pure(obj)


def _proposal_objects(inputs: list[Path], **options: Any) -> list[dict]:
    rec = propose(observe(inputs), SynthesisOptions(**options))
    return [f.obj for f in render_files(rec, OutputKind())]


@pytest.mark.parametrize(
    ("inputs", "options"),
    [
        ([SAMPLE_FLOWS], {}),
        ([SAMPLE_FLOWS], {"generalize": "role"}),
        ([REAL_FLOWS / "hubble"], {}),
    ],
    ids=["sample-exact", "sample-role", "real-hubble"],
)
def test_every_file_of_a_real_proposal_is_written_directly_and_alike(inputs, options):
    objects = _proposal_objects(inputs, **options)
    assert objects and all(block_yaml.dump(o) == pure(o) for o in objects)


def test_real_policies_from_the_wild_match_pyyaml():
    docs = [
        doc
        for path in sorted((SHARED / "real-policies").rglob("*.y*ml"))
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8"))
        if isinstance(doc, dict)
    ]
    assert len(docs) > 40
    assert all(to_yaml(doc) == pure(doc) for doc in docs)


def _case_variants(word: str) -> set[str]:
    variants = {""}
    for ch in word:
        variants = {v + c for v in variants for c in {ch.lower(), ch.upper()}}
    return variants


def _short_texts(alphabet: str, longest: int) -> list[str]:
    texts = [""]
    for _ in range(longest):
        texts = [t + c for t in texts for c in alphabet] + texts
    return [t for t in texts if t]


#: Text at the edge of what the writer settles without PyYAML (letters, digits, ``_./-``):
#: YAML 1.1's words in every case, numbers and times with and without a ``/``, and every
#: short text of the letters that lead its words and the characters of its numbers.
SETTLED_WITHOUT_PYYAML = sorted(
    {
        *(v for w in ("yes", "no", "on", "off", "true", "false", "null", "y", "n", "nan", "inf")
          for v in _case_variants(w)),
        "1/2", "0x1F/", "0o17/x", "1_000/", "2026-12-07/x", "1e3/4", "12:30/", "10.0.0.0/8",
        "1.5/x", "0/0", "a/b", "/x", "x/", "-/x", "_/x", "./x", "k8s.io/name", "app_name",
        *_short_texts("yYnNoOtTfFeEx0189._/-", 3),
    }
)  # fmt: skip


def test_text_settled_without_pyyaml_is_written_as_pyyaml_writes_it():
    assert len(SETTLED_WITHOUT_PYYAML) > 9000
    for text in SETTLED_WITHOUT_PYYAML:
        assert block_yaml.dump({text: [text]}) == pure({text: [text]}), text
