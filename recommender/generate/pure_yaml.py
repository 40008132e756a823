"""PyYAML's own writing of a policy file: the reference for the bytes of every one, and the
fallback for objects :mod:`.block_yaml` cannot promise them for. Apart from both so that
PyYAML (10 ms to import) loads only when needed: a proposal of names, labels and CIDRs is
written without it."""

from __future__ import annotations

from typing import Any

import yaml

from .block_yaml import DUMP_OPTIONS


class PureDumper(yaml.SafeDumper):
    """PyYAML's pure-Python safe dumper, never emitting aliases (each object stands alone
    in review): the reference for the bytes of every policy file."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def pure_yaml(obj: Any) -> str:
    """``obj`` as PyYAML writes a policy file (:class:`PureDumper`, :data:`DUMP_OPTIONS`)."""
    return yaml.dump(obj, Dumper=PureDumper, **DUMP_OPTIONS)
