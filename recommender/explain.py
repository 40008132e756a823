"""Why a set of policies allows or denies one connection: every pod pair the two names
stand for judged by the evaluator, each side traced rule by rule
(:mod:`recommender.explain_trace`), and pairs whose traces find the same (the same rules
match and miss, the same decision) explained once.

``netpol-recommender explain`` prints an :class:`Explanation`
(:mod:`recommender.explain_text`); notebooks ask :meth:`recommender.Recommendation.explain`
for the short form (:func:`explain`), one verdict line per pod pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .explain_endpoints import KnownPods, Named, PortQuery, dns_names, parse_port
from .explain_trace import SideTrace, trace_side
from .netpol.evaluator import Evaluator, Verdict, describe

__all__ = ["VERDICTS", "Explanation", "PairGroup", "explain", "explain_connection"]

#: The verdict words, in the order that a mix of pairs takes: one denied pair makes the
#: connection DENIED, else one unjudged pair makes it UNJUDGED.
VERDICTS = ("DENIED", "UNJUDGED", "ALLOWED")


def verdict_word(verdict: Verdict) -> str:
    """ALLOWED, DENIED (judged, some side denies) or UNJUDGED (a rule the evaluator cannot
    judge leaves it unknown)."""
    if verdict.allowed:
        return "ALLOWED"
    return "DENIED" if verdict.judged else "UNJUDGED"


@dataclass(frozen=True, slots=True)
class PairGroup:
    """Pod pairs whose traces read the same, explained once."""

    verdict: str
    #: the destination port (a named port resolved on the destination pod)
    port: int
    #: (source, destination) of every pair, as :func:`describe` names them
    pairs: tuple[tuple[str, str], ...]
    egress: SideTrace
    ingress: SideTrace
    #: the reasons read the same for every pair; else they are worded for the first pair
    #: (the others match and miss the same rules, for reasons worded otherwise)
    uniform: bool = True

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(s for s, _ in self.pairs))

    @property
    def destinations(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(d for _, d in self.pairs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "port": self.port,
            "pairs": [list(p) for p in self.pairs],
            "reasons_worded_for": None if self.uniform else list(self.pairs[0]),
            "egress": self.egress.to_dict(),
            "ingress": self.ingress.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Explanation:
    """The answer to "may SRC reach DST on PORT/PROTO, and why?"."""

    source: Named
    destination: Named
    port: PortQuery
    groups: tuple[PairGroup, ...]
    #: what the reader of the verdict must know (how address blocks are judged, ...)
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """DENIED when any pair is denied, else UNJUDGED when any is unjudged, else ALLOWED."""
        found = {g.verdict for g in self.groups}
        return next(v for v in VERDICTS if v in found)

    def counts(self) -> dict[str, int]:
        """Pod pairs per verdict (every verdict word, zeros included)."""
        out = dict.fromkeys(VERDICTS, 0)
        for g in self.groups:
            out[g.verdict] += len(g.pairs)
        return out

    def to_dict(self) -> dict[str, Any]:
        """The explanation as one JSON document (``explain --json``)."""
        return {
            "verdict": self.verdict,
            "source": _named_dict(self.source),
            "destination": _named_dict(self.destination),
            "protocol": self.port.protocol,
            "port": self.port.number if self.port.name is None else self.port.name,
            "pairs": {k.lower(): v for k, v in self.counts().items()},
            "explanations": [g.to_dict() for g in self.groups],
            "notes": list(self.notes),
        }


def _named_dict(named: Named) -> dict[str, Any]:
    return {
        "name": named.text,
        "kind": named.kind,
        "endpoints": [describe(ep) for ep in named.endpoints],
    }


def explain_connection(
    evaluator: Evaluator,
    pods: KnownPods,
    src: str,
    dst: str,
    port: PortQuery | str,
    *,
    names: Sequence[str] = (),
) -> Explanation:
    """Explain ``src`` -> ``dst`` on ``port`` (a :class:`PortQuery` or ``PORT[/PROTO]``
    text) under the evaluator's policies, every pod pair of the two names; ``names``: the
    DNS names an address ``dst`` was reached by (for DNS-name peers). Raises
    :class:`~recommender.explain_endpoints.ExplainError` for a name or port that says
    nothing known."""
    query = port if isinstance(port, PortQuery) else parse_port(port)
    source = pods.resolve(src)
    destination = pods.resolve(dst).reached_as(dns_names(names))
    resolved = {id(d): query.resolve(d) for d in destination.endpoints}
    groups: dict[tuple, list] = {}
    for s in source.endpoints:
        for d in destination.endpoints:
            number = resolved[id(d)]
            verdict = evaluator.evaluate(s, d, query.protocol, number)
            egress = trace_side(evaluator, verdict.egress, s, d, d, query.protocol, number)
            ingress = trace_side(evaluator, verdict.ingress, d, s, d, query.protocol, number)
            word = verdict_word(verdict)
            key = (word, number, egress.key(), ingress.key())
            entry = groups.setdefault(key, [word, number, [], egress, ingress, set()])
            entry[2].append((describe(s), describe(d)))
            entry[5].add((egress.wording(), ingress.wording()))
    ordered = sorted(groups.values(), key=lambda e: (VERDICTS.index(e[0]), e[2][0]))
    notes = ()
    if not evaluator.ipblock_matches_pods:
        notes = (
            "Cilium policies: ipBlocks and CIDR rules are judged as Cilium applies them, "
            "matching no in-cluster pod",
        )
    return Explanation(
        source,
        destination,
        query,
        tuple(
            PairGroup(w, n, tuple(pairs), e, i, len(words) == 1)
            for w, n, pairs, e, i, words in ordered
        ),
        notes,
    )


def explain(
    evaluator: Evaluator, pods: pd.DataFrame, src: str, dst: str, protocol: str, port: int
) -> list[str]:
    """The short form: one verdict line per pod pair of ``src`` -> ``dst`` on
    ``protocol``/``port``, then what decided each side."""
    known = KnownPods(pods)
    sources: Sequence = known.resolve(src).endpoints
    targets: Sequence = known.resolve(dst).endpoints
    lines = []
    for s in sources:
        for d in targets:
            verdict = evaluator.evaluate(s, d, protocol, port)
            lines.append(f"{verdict_word(verdict)} {s.name} -> {d.name} {port}/{protocol}")
            lines += [f"  {line}" for line in verdict.explain()]
    return lines
