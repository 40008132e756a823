"""Calico's selector expression language, read into model :class:`Selector` s.

Calico selects endpoints, namespaces and network sets with expressions such as
``app == 'web' && tier in {'a', 'b'} || !has(canary)``. The grammar and the meaning of each
operator are Calico's (``libcalico-go/lib/selector``: ``tokenizer.go``, ``parser.go``,
``ast.go``; the "Selectors" section of the NetworkPolicy reference,
docs.tigera.io/calico/latest/reference/resources/networkpolicy#selectors):

* ``k == 'v'``, ``k in {'v1', 'v2'}``, ``has(k)``: the label is there (with such a value);
* ``k != 'v'`` and ``k not in {...}`` also match a resource WITHOUT label ``k`` (the docs'
  table, and ``LabelNeValueNode.Evaluate`` returns true when the label is missing): they are
  the model's ``NotIn``, as Kubernetes' ``NotIn``; ``!has(k)`` is ``DoesNotExist``;
* ``all()`` matches every resource in scope; ``global()`` evaluates to true as well (it only
  changes the scope of a ``namespaceSelector``; the reader handles that);
* ``!``, ``&&``, ``||`` and parentheses, ``||`` binding loosest; string literals are quoted
  with ``'`` or ``"`` and have no escapes; the empty expression is ``all()``.

A model :class:`Selector` is a conjunction, so an expression becomes a :class:`Dnf`: an OR of
selectors, negations pushed down to the labels. ``contains``, ``starts with`` and
``ends with`` have no model operator: each is read as the broader ``has(k)`` (negated: as
true) and named in :attr:`Dnf.approximations`, so the caller can mark what it compiles
unjudged instead of judging on a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product

from .model import Requirement, Selector

__all__ = [
    "MAX_TERMS",
    "Dnf",
    "SelectorError",
    "compile_expression",
    "conjoin",
    "is_label_key",
    "parse",
    "quote",
]

#: How many selectors (OR terms) one expression may expand to before it is refused.
MAX_TERMS = 64
#: How deep parentheses may nest (the parser recurses once per level).
MAX_DEPTH = 50
#: A label key as Calico's tokenizer reads one (``LabelKeyMatcher``).
_KEY_RE = re.compile(r"[a-zA-Z0-9_./-]+")
_WHITESPACE = " \t"


class SelectorError(ValueError):
    """A selector expression Calico would not parse, or one too large to expand."""


# --------------------------------------------------------------------------------------------
# Tokens
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # label, string, op ("==", "!=", "in", "not in", ...), punctuation, "eof"
    value: str = ""


_PUNCTUATION = {"(": "(", ")": ")", "{": "{", "}": "}", ",": ","}
_DOUBLE = {"==": "==", "!=": "!=", "&&": "&&", "||": "||"}
_FUNCTIONS = ("has(", "all(", "global(")
_AFTER_LABEL = (("contains", "contains"), ("starts", "starts with"), ("ends", "ends with"))


def _operator_after_label(text: str) -> tuple[_Token, str]:
    """The word operator that must follow a label (as ``tokenizer.go`` reads it)."""
    for word, op in _AFTER_LABEL:
        if text.startswith(word):
            rest = text[len(word) :]
            if op == word:
                return _Token(op), rest
            rest = rest.lstrip(_WHITESPACE)
            if rest.startswith("with"):
                return _Token(op), rest[4:]
            raise SelectorError(f"expected {op!r}")
    if text.startswith("not"):
        rest = text[3:].lstrip(_WHITESPACE)
        if rest.startswith("in"):
            return _Token("not in"), rest[2:]
        raise SelectorError("expected 'not in'")
    if text.startswith("in"):
        return _Token("in"), text[2:]
    raise SelectorError("expected an operator after a label")


def _function(text: str) -> tuple[_Token, str]:
    name = text[: text.index("(")]
    rest = text[len(name) + 1 :].lstrip(_WHITESPACE)
    key = ""
    if name == "has":
        match = _KEY_RE.match(rest)
        if not match:
            raise SelectorError("no label name in has(")
        key = match.group()
        rest = rest[len(key) :].lstrip(_WHITESPACE)
    if not rest.startswith(")"):
        raise SelectorError(f"no closing ')' after {name}(")
    return _Token(name, key), rest[1:]


def _string(text: str) -> tuple[_Token, str]:
    end = text.find(text[0], 1)
    if end < 0:
        raise SelectorError("unterminated string")
    return _Token("string", text[1:end]), text[end + 1 :]


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    while True:
        text = text.lstrip(_WHITESPACE)
        if not text:
            tokens.append(_Token("eof"))
            return tokens
        last = tokens[-1].kind if tokens else ""
        if text[0] in _PUNCTUATION:
            token, text = _Token(_PUNCTUATION[text[0]]), text[1:]
        elif text[0] in "'\"":
            token, text = _string(text)
        elif text[:2] in _DOUBLE:
            token, text = _Token(_DOUBLE[text[:2]]), text[2:]
        elif text[0] == "!":
            token, text = _Token("!"), text[1:]
        elif text[0] in "=&|":
            raise SelectorError(f"expected {text[0] * 2}")
        elif last == "label":
            token, text = _operator_after_label(text)
        elif text.startswith(_FUNCTIONS):
            token, text = _function(text)
        elif match := _KEY_RE.match(text):
            token, text = _Token("label", match.group()), text[match.end() :]
        else:
            raise SelectorError(f"unexpected character {text[0]!r}")
        tokens.append(token)


# --------------------------------------------------------------------------------------------
# Syntax tree
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Match:
    """One match operator: ``op`` is ``==``, ``!=``, ``in``, ``not in``, ``contains``,
    ``starts with``, ``ends with``, ``has``, ``all`` or ``global``."""

    op: str
    key: str = ""
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    operands: tuple[Node, ...]


Node = Match | Not | And | Or

_COMPARISONS = ("==", "!=", "contains", "starts with", "ends with")


class _Parser:
    """Recursive descent over the tokens, as ``parser.go``: or > and > (negated) operation."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def peek(self) -> _Token:
        return self.tokens[self.pos]

    def take(self) -> _Token:
        token = self.tokens[self.pos]
        if token.kind != "eof":
            self.pos += 1
        return token

    def expect(self, kind: str, what: str) -> _Token:
        token = self.take()
        if token.kind != kind:
            raise SelectorError(f"expected {what}")
        return token

    def parse_or(self, depth: int) -> Node:
        operands = [self.parse_and(depth)]
        while self.peek().kind == "||":
            self.take()
            operands.append(self.parse_and(depth))
        return operands[0] if len(operands) == 1 else Or(tuple(operands))

    def parse_and(self, depth: int) -> Node:
        operands = [self.parse_operation(depth)]
        while self.peek().kind == "&&":
            self.take()
            operands.append(self.parse_operation(depth))
        return operands[0] if len(operands) == 1 else And(tuple(operands))

    def parse_operation(self, depth: int) -> Node:
        negated = False
        while self.peek().kind == "!":
            self.take()
            negated = not negated
        node = self.parse_match(depth)
        return Not(node) if negated else node

    def parse_match(self, depth: int) -> Node:
        token = self.take()
        if token.kind in ("has", "all", "global"):
            return Match(token.kind, token.value)
        if token.kind == "(":
            if depth >= MAX_DEPTH:
                raise SelectorError(f"parentheses nested deeper than {MAX_DEPTH}")
            node = self.parse_or(depth + 1)
            self.expect(")", "')'")
            return node
        if token.kind != "label":
            raise SelectorError(f"unexpected {token.kind if token.kind != 'eof' else 'end'}")
        op = self.take()
        if op.kind in _COMPARISONS:
            return Match(op.kind, token.value, (self.expect("string", "a string").value,))
        if op.kind in ("in", "not in"):
            return Match(op.kind, token.value, self.parse_set())
        raise SelectorError(f"expected an operator after label {token.value!r}")

    def parse_set(self) -> tuple[str, ...]:
        self.expect("{", "a set literal")
        values = []
        while self.peek().kind == "string":
            values.append(self.take().value)
            if self.peek().kind != ",":
                break
            self.take()
        self.expect("}", "'}'")
        return tuple(values)


def parse(text: str) -> Node:
    """The syntax tree of a selector expression; :class:`SelectorError` when Calico would
    refuse it. The empty (or blank) expression is ``all()``."""
    if not isinstance(text, str):
        raise SelectorError(f"must be a string, got {type(text).__name__}")
    parser = _Parser(_tokenize(text))
    if parser.peek().kind == "eof":
        return Match("all")
    node = parser.parse_or(0)
    if parser.peek().kind != "eof":
        raise SelectorError("unexpected content at the end")
    return node


# --------------------------------------------------------------------------------------------
# Disjunctive normal form
# --------------------------------------------------------------------------------------------

#: One label condition: (key, operator, values) with a model operator.
_Literal = tuple[str, str, frozenset[str]]
#: A conjunction of literals, canonical (one or two literals per key, sorted).
_Term = tuple[_Literal, ...]


@dataclass(frozen=True, slots=True)
class Dnf:
    """An expression as an OR of model selectors: ``terms == ()`` matches nothing,
    ``(Selector(),)`` everything."""

    terms: tuple[Selector, ...]
    #: Operators read as a broader condition, one line each (empty: the DNF is exact).
    approximations: tuple[str, ...] = ()
    #: Whether ``global()`` occurs in the expression.
    uses_global: bool = False

    @property
    def matches_all(self) -> bool:
        return any(t.matches_all for t in self.terms)


def _key_term(key: str, literals: list[_Literal]) -> _Term | None:
    """The literals on one key as the fewest that say the same; None when contradictory."""
    present = any(op in ("In", "Exists") for _, op, _ in literals)
    absent = any(op == "DoesNotExist" for _, op, _ in literals)
    allowed: frozenset[str] | None = None
    forbidden: frozenset[str] = frozenset()
    for _, op, values in literals:
        if op == "In":
            allowed = values if allowed is None else allowed & values
        elif op == "NotIn":
            forbidden |= values
    if present and absent:
        return None
    if absent:
        return ((key, "DoesNotExist", frozenset()),)
    if allowed is not None:
        allowed -= forbidden
        return ((key, "In", allowed),) if allowed else None
    out: list[_Literal] = []
    if present:
        out.append((key, "Exists", frozenset()))
    if forbidden:
        out.append((key, "NotIn", forbidden))
    return tuple(out)


def _conjoin(*terms: _Term) -> _Term | None:
    by_key: dict[str, list[_Literal]] = {}
    for term in terms:
        for literal in term:
            by_key.setdefault(literal[0], []).append(literal)
    out: list[_Literal] = []
    for key in sorted(by_key):
        part = _key_term(key, by_key[key])
        if part is None:
            return None
        out.extend(part)
    return tuple(out)


class _Expander:
    """Negation pushed to the labels, then the OR of ANDs, capped at ``max_terms``."""

    def __init__(self, max_terms: int) -> None:
        self.max_terms = max_terms
        self.approximations: list[str] = []
        self.uses_global = False

    def check(self, terms: list[_Term]) -> list[_Term]:
        unique = list(dict.fromkeys(terms))
        if len(unique) > self.max_terms:
            raise SelectorError(f"expands to more than {self.max_terms} OR terms")
        return unique

    def expand(self, node: Node, negated: bool = False) -> list[_Term]:
        if isinstance(node, Not):
            return self.expand(node.operand, not negated)
        if isinstance(node, Match):
            return self.match(node, negated)
        conjunction = isinstance(node, And) != negated  # De Morgan
        parts = [self.expand(op, negated) for op in node.operands]
        if not conjunction:
            return self.check([t for part in parts for t in part])
        terms: list[_Term] = [()]
        for part in parts:
            combined = (_conjoin(a, b) for a, b in product(terms, part))
            terms = self.check([t for t in combined if t is not None])
        return terms

    def match(self, node: Match, negated: bool) -> list[_Term]:
        if node.op in ("all", "global"):
            self.uses_global |= node.op == "global"
            return [] if negated else [()]
        key = node.key
        values = frozenset(node.values)
        if node.op == "has":
            return [((key, "DoesNotExist" if negated else "Exists", frozenset()),)]
        if node.op in ("==", "in", "!=", "not in"):
            positive = node.op in ("==", "in")
            term = _conjoin(((key, "In" if positive != negated else "NotIn", values),))
            return [] if term is None else [term]
        text = f"{'!' if negated else ''}{key} {node.op} {quote(node.values[0], strict=False)}"
        if negated:
            self.approximations.append(f"{text} read as all()")
            return [()]
        self.approximations.append(f"{text} read as has({key})")
        return [((key, "Exists", frozenset()),)]


def _selector(term: _Term) -> Selector:
    labels = {k: next(iter(v)) for k, op, v in term if op == "In" and len(v) == 1}
    reqs = [Requirement(k, op, tuple(sorted(v))) for k, op, v in term if k not in labels]
    return Selector.of(labels, reqs)


def _literals(sel: Selector) -> _Term:
    labels = tuple((k, "In", frozenset((v,))) for k, v in sel.match_labels)
    return labels + tuple((r.key, r.operator, frozenset(r.values)) for r in sel.requirements)


def conjoin(*selectors: Selector) -> Selector | None:
    """The selector matching exactly the label sets every one of ``selectors`` matches;
    None when no label set can (``a == 'x'`` and ``a == 'y'``)."""
    term = _conjoin(*(_literals(s) for s in selectors))
    return None if term is None else _selector(term)


def compile_expression(text: str, max_terms: int = MAX_TERMS) -> Dnf:
    """A selector expression as a :class:`Dnf`; :class:`SelectorError` when Calico would not
    parse it or it expands to more than ``max_terms`` selectors."""
    expander = _Expander(max_terms)
    terms = expander.expand(parse(text))
    return Dnf(
        tuple(_selector(t) for t in terms),
        tuple(dict.fromkeys(expander.approximations)),
        expander.uses_global,
    )


# --------------------------------------------------------------------------------------------
# Writing expressions
# --------------------------------------------------------------------------------------------


def is_label_key(key: str) -> bool:
    """Whether Calico's tokenizer reads ``key`` whole as one label (1-512 characters of
    ``[a-zA-Z0-9_./-]``)."""
    return isinstance(key, str) and 0 < len(key) <= 512 and bool(_KEY_RE.fullmatch(key))


def quote(value: str, strict: bool = True) -> str:
    """``value`` as a Calico string literal: single quotes, or double quotes when it holds a
    single quote. Calico literals have no escapes, so a value holding both quote characters
    cannot be written: :class:`SelectorError` (with ``strict``; else a display form)."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    if strict:
        raise SelectorError(f"{value!r} holds both quote characters: Calico cannot quote it")
    return repr(value)
