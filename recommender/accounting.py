"""Record accounting: records read = normalized + rejected + filtered, by reason.

Nothing is silently dropped. Every stage that sets a record aside says why here,
and the summary and ``report.json`` print these figures.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: How many rejected records are kept with file:line for the report.
MAX_EXAMPLES = 20


@dataclass
class Rejection:
    """One record that could not be read, with where and why."""

    file: str
    line: int
    reason: str
    detail: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}: {self.detail}"


@dataclass
class RecordCounts:
    """Counts for one ingest run; ``read == normalized + rejected + filtered`` always."""

    read: int = 0
    normalized: int = 0
    rejected: Counter = field(default_factory=Counter)
    filtered: Counter = field(default_factory=Counter)
    examples: list[Rejection] = field(default_factory=list)
    files: int = 0

    def add_normalized(self, n: int = 1) -> None:
        self.read += n
        self.normalized += n

    def add_filtered(self, reason: str, n: int = 1) -> None:
        self.read += n
        self.filtered[reason] += n

    def add_rejected(self, file: str, line: int, reason: str, detail: str = "") -> None:
        self.read += 1
        self.rejected[reason] += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(Rejection(file, line, reason, detail[:300]))

    def merge(self, other: RecordCounts) -> None:
        self.read += other.read
        self.normalized += other.normalized
        self.rejected.update(other.rejected)
        self.filtered.update(other.filtered)
        self.files += other.files
        room = MAX_EXAMPLES - len(self.examples)
        if room > 0:
            self.examples.extend(other.examples[:room])

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def filtered_total(self) -> int:
        return sum(self.filtered.values())

    def balanced(self) -> bool:
        return self.read == self.normalized + self.rejected_total + self.filtered_total

    def to_dict(self) -> dict:
        return {
            "files": self.files,
            "read": self.read,
            "normalized": self.normalized,
            "rejected": {
                "total": self.rejected_total,
                "reasons": dict(sorted(self.rejected.items())),
                "examples": [
                    {"file": e.file, "line": e.line, "reason": e.reason, "detail": e.detail}
                    for e in self.examples
                ],
            },
            "filtered": {
                "total": self.filtered_total,
                "reasons": dict(sorted(self.filtered.items())),
            },
        }
