"""Calico selector expressions: parsed as Calico parses them, and read into an OR of model
selectors that match exactly the label sets Calico's selector matches.

The cases follow the "Selectors" table of Calico's NetworkPolicy reference
(docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors, tigera/docs
``calico/_includes/content/_selectors.mdx``) and the shapes of the cases in
``libcalico-go/lib/selector/parser/parser_test.go`` (projectcalico/calico).
"""

from __future__ import annotations

import pytest

from recommender.netpol.calico_selector import (
    MAX_TERMS,
    SelectorError,
    compile_expression,
    conjoin,
    is_label_key,
    parse,
    quote,
)
from recommender.netpol.model import Selector


def matches(expression: str, labels: dict[str, str]) -> bool:
    return any(term.matches(labels) for term in compile_expression(expression).terms)


# (expression, label sets it matches, label sets it does not match)
TABLE = [
    # k == 'v': the label with that value
    ("a == 'b'", [{"a": "b"}, {"a": "b", "c": "d"}], [{}, {"a": "c"}, {"c": "d"}]),
    ('a == "b"', [{"a": "b"}], [{"a": "B"}, {}]),
    # k != 'v': without the label, or another value (the docs' table)
    ("a != 'b'", [{}, {"a": "c"}, {"c": "b"}], [{"a": "b"}]),
    # in / not in: not in also matches a missing label
    ("a in {'b', 'c'}", [{"a": "b"}, {"a": "c"}], [{}, {"a": "d"}]),
    ("a not in {'b', 'c'}", [{}, {"a": "d"}], [{"a": "b"}, {"a": "c"}]),
    ("a in {}", [], [{}, {"a": ""}]),
    ("a not in {}", [{}, {"a": "x"}], []),
    ("a in {'b',}", [{"a": "b"}], [{}]),
    (r"""a in {"'", '"', "c"}""", [{"a": "'"}, {"a": '"'}, {"a": "c"}], [{}, {"a": "e"}]),
    # has / !has
    ("has(a)", [{"a": ""}, {"a": "x"}], [{}, {"b": "a"}]),
    ("!has(a)", [{}, {"b": "a"}], [{"a": ""}]),
    ("! has( a )", [{}], [{"a": "x"}]),
    ("!!has(a)", [{"a": "x"}], [{}]),
    ("!!!has(a)", [{}], [{"a": "x"}]),
    # all(), the empty selector, !all(), global()
    ("all()", [{}, {"a": "b"}], []),
    ("", [{}, {"a": "b"}], []),
    ("  ", [{}], []),
    ("!all()", [], [{}, {"a": "b"}]),
    ("global()", [{}, {"a": "b"}], []),
    # && || ! and parentheses, || binding loosest
    ("a == 'a1' && b == 'b1'", [{"a": "a1", "b": "b1"}], [{"a": "a1"}, {"b": "b1"}]),
    ("a == 'a1' || b == 'b1'", [{"a": "a1"}, {"b": "b1"}], [{}, {"a": "b1"}]),
    ("a != 'a1' || b != 'b1'", [{}, {"a": "a1"}], [{"a": "a1", "b": "b1"}]),
    ("!a == 'a1' && b == 'b1'", [{"b": "b1"}, {"a": "x", "b": "b1"}], [{"a": "a1", "b": "b1"}]),
    ("!(!has(a) || has(b))", [{"a": "a"}], [{}, {"a": "a", "b": "b"}]),
    ("!(a == 'x' && b == 'y')", [{}, {"a": "x"}, {"b": "y"}], [{"a": "x", "b": "y"}]),
    ("a == 'x' && a == 'y'", [], [{"a": "x"}, {"a": "y"}]),
    ("a == 'x' && !has(a)", [], [{}, {"a": "x"}]),
    ("a in {'x', 'y'} && a != 'x'", [{"a": "y"}], [{"a": "x"}, {}]),
    ("has(a) && a not in {'x'}", [{"a": "y"}], [{}, {"a": "x"}]),
    (
        "(a == '1' || b == '1') && (c == '1' || d == '1')",
        [{"a": "1", "c": "1"}, {"b": "1", "d": "1"}],
        [{"a": "1"}, {"c": "1", "d": "1"}],
    ),
    # the docs' precedence example: ((!has(l)) || ((l starts with 'prod') && (role in {...})))
    (
        "!has(my-label) || my-label starts with 'prod' && role in {'frontend','business'}",
        [{}, {"my-label": "production", "role": "frontend"}],
        [{"my-label": "prod"}],
    ),
    # label keys with prefixes, dots and dashes
    (
        "app.kubernetes.io/name == 'web' && kubernetes.io/metadata.name not in {'kube-system'}",
        [{"app.kubernetes.io/name": "web"}],
        [{"app.kubernetes.io/name": "web", "kubernetes.io/metadata.name": "kube-system"}],
    ),
    # keywords are labels where a label is expected
    ("has == 'x' && all == 'y'", [{"has": "x", "all": "y"}], [{"has": "x"}]),
]


@pytest.mark.parametrize(("expression", "yes", "no"), TABLE)
def test_the_selector_table(expression, yes, no):
    dnf = compile_expression(expression)
    for labels in yes:
        assert matches(expression, labels), (expression, labels, dnf)
    for labels in no:
        assert not matches(expression, labels), (expression, labels, dnf)


@pytest.mark.parametrize(
    "expression",
    [
        "b == b",
        "b contains b",
        "'b1' == b",
        "b",
        "a b",
        "!",
        'foo == "bar" &',
        'foo == "bar" |',
        "foo != ||",
        'foo in {"", ||',
        'foo in ""',
        '"FOO',
        "\"FOO'",
        "(",
        '(a == "foo"',
        ")",
        "()",
        "%",
        'a == "b" && %',
        "has(foo) &&",
        "has()",
        "a = 'b'",
        "a == 'b' c == 'd'",
        "a starts 'b'",
    ],
)
def test_what_calico_refuses_is_refused(expression):
    with pytest.raises(SelectorError):
        compile_expression(expression)


def test_a_conjunction_is_one_selector_in_canonical_form():
    dnf = compile_expression("tier == 'y' && app == 'x' && !has(track) && env in {'b', 'a'}")
    assert dnf.terms == (
        Selector.of(
            {"app": "x", "tier": "y"},
            [("env", "In", ("a", "b")), ("track", "DoesNotExist", ())],
        ),
    )
    assert dnf.approximations == ()


def test_negation_is_pushed_to_the_labels():
    dnf = compile_expression("!(a == 'x' || has(b))")
    assert dnf.terms == (Selector.of({}, [("a", "NotIn", ("x",)), ("b", "DoesNotExist", ())]),)


def test_an_or_is_several_selectors():
    dnf = compile_expression("app == 'a' || app == 'b' || app == 'a'")
    assert dnf.terms == (Selector.of({"app": "a"}), Selector.of({"app": "b"}))


def test_contains_starts_and_ends_with_are_read_broader_and_named():
    dnf = compile_expression("a contains 'x' && !(b ends with 'y')")
    assert dnf.terms == (Selector.of({}, [("a", "Exists", ())]),)
    assert dnf.approximations == (
        "a contains 'x' read as has(a)",
        "!b ends with 'y' read as all()",
    )
    # broader, never narrower: whatever Calico matches, the DNF matches
    assert matches("a contains 'x'", {"a": "zxz"})
    assert matches("a starts with 'x'", {"a": "yyy"})  # the approximation


def test_global_is_flagged():
    assert compile_expression("global()").uses_global
    assert not compile_expression("all()").uses_global


def test_an_expression_that_explodes_is_refused():
    factors = " && ".join(f"(a{i} == 'x' || b{i} == 'x')" for i in range(7))  # 2**7 terms
    with pytest.raises(SelectorError, match=f"more than {MAX_TERMS} OR terms"):
        compile_expression(factors)
    assert len(compile_expression(" && ".join(factors.split(" && ")[:6])).terms) == 64


def test_deep_nesting_is_refused_not_a_crash():
    with pytest.raises(SelectorError, match="nested deeper"):
        compile_expression("(" * 500 + "all()" + ")" * 500)
    assert parse("((all()))") == parse("all()")


def test_conjoin_is_the_and_of_selectors():
    a = Selector.of({"app": "x"})
    b = Selector.of({}, [("app", "In", ("x", "y")), ("tier", "Exists", ())])
    assert conjoin(a, b) == Selector.of({"app": "x"}, [("tier", "Exists", ())])
    assert conjoin(a, Selector.of({"app": "y"})) is None
    assert conjoin() == Selector()


@pytest.mark.parametrize(
    "value",
    ["plain", "", "it's", 'say "hi"', "a' || has(b) || a == '", "x') || all() || (y", "{}", "\t"],
)
def test_a_quoted_value_reads_back_as_itself(value):
    expression = f"k == {quote(value)}"
    dnf = compile_expression(expression)
    assert dnf.terms == (Selector.of({"k": value}),), expression
    assert not matches(expression, {"k": value + "x"})


def test_a_value_with_both_quotes_cannot_be_quoted():
    with pytest.raises(SelectorError, match="both quote characters"):
        quote("""it's "x" """)


@pytest.mark.parametrize(
    ("key", "ok"),
    [
        ("app", True),
        ("app.kubernetes.io/name", True),
        ("a_b-c", True),
        ("", False),
        ("a b", False),
        ("a)", False),
        ("a'", False),
        ("x" * 513, False),
    ],
)
def test_label_keys(key, ok):
    assert is_label_key(key) is ok


def test_random_text_parses_or_is_refused_never_crashes():
    import random

    pieces = [*"ab ()!&|=' \"{},", "has(", "all()", "global()", " in ", " not in ", "==", "!="]
    pieces += [" contains ", "&&", "||", "a", "b.c/d"]
    rng = random.Random(12)
    parsed = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        try:
            dnf = compile_expression(text)
        except SelectorError:
            continue
        parsed += 1
        assert all(isinstance(t, Selector) for t in dnf.terms)
    assert parsed > 100
