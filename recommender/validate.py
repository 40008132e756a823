"""Kubernetes syntax checks for names, labels and addresses read from logs.

Input is hostile (DESIGN.md section 8): anything that may later reach YAML, Markdown or a
file path is checked here first. The rules follow the Kubernetes documentation
("Labels and Selectors" -> syntax and character set; "Object Names and IDs"):

* label key: an optional prefix that is a DNS-1123 subdomain (at most 253 characters)
  followed by ``/``, then a name of at most 63 characters that begins and ends with an
  alphanumeric character and has dashes, underscores, dots and alphanumerics between;
* label value: empty, or the same rule as the name part of a key (at most 63 characters);
* DNS-1123 label (namespace names, ...): at most 63 lowercase alphanumerics or ``-``,
  beginning and ending with an alphanumeric;
* DNS-1123 subdomain (pod, workload, service-account names, ...): at most 253 characters,
  dot-separated DNS-1123 labels.

Every check accepts any Python object and returns False (or None) for non-strings, so
callers never need to type-check first. Checks are pure and cached.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

__all__ = [
    "canonical_ip",
    "ip_family",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_label_key",
    "is_label_value",
    "truncated_repr",
]

_CACHE = 1 << 16

# ``re.ASCII`` and explicit classes: no Unicode digits or letters sneak in. ``fullmatch``
# is used everywhere, so a trailing newline never passes (unlike ``$``).
_NAME_RE = re.compile(r"[A-Za-z0-9](?:[-A-Za-z0-9_.]*[A-Za-z0-9])?", re.ASCII)
_DNS1123_LABEL_RE = re.compile(r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?", re.ASCII)
_DNS1123_SUBDOMAIN_RE = re.compile(
    r"[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*", re.ASCII
)


def is_dns1123_label(s: object) -> bool:
    """True for a DNS-1123 label: 1..63 of ``[a-z0-9-]``, alphanumeric at both ends."""
    return type(s) is str and 0 < len(s) <= 63 and _DNS1123_LABEL_RE.fullmatch(s) is not None


def is_dns1123_subdomain(s: object) -> bool:
    """True for a DNS-1123 subdomain: at most 253 characters of dot-separated labels."""
    return type(s) is str and 0 < len(s) <= 253 and _DNS1123_SUBDOMAIN_RE.fullmatch(s) is not None


def _is_label_name(s: str) -> bool:
    return 0 < len(s) <= 63 and _NAME_RE.fullmatch(s) is not None


@lru_cache(maxsize=_CACHE)
def _label_key(k: str) -> bool:
    prefix, slash, name = k.rpartition("/")
    if slash and not is_dns1123_subdomain(prefix):
        return False
    return _is_label_name(name)


def is_label_key(k: object) -> bool:
    """True for a valid label (or annotation) key: ``[prefix/]name``."""
    # 253 (prefix) + 1 + 63 (name) bounds the string before any regex runs.
    return type(k) is str and 0 < len(k) <= 317 and _label_key(k)


@lru_cache(maxsize=_CACHE)
def _label_value(v: str) -> bool:
    return v == "" or _is_label_name(v)


def is_label_value(v: object) -> bool:
    """True for a valid label value: empty, or 1..63 characters like a label name."""
    return type(v) is str and len(v) <= 63 and _label_value(v)


@lru_cache(maxsize=_CACHE)
def _canonical_ip(s: str) -> str | None:
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return None
    if getattr(addr, "scope_id", None):
        # ``fe80::1%eth0``: a zone only means something on one host; no policy can name it.
        return None
    return addr.compressed


def canonical_ip(s: object) -> str | None:
    """Canonical text of an IPv4/IPv6 address (``ipaddress`` compressed form), else None.

    Leading/trailing whitespace, zone ids, prefixes (``/24``) and non-strings are refused.
    """
    if type(s) is not str or not 0 < len(s) <= 45 or s != s.strip():
        return None
    return _canonical_ip(s)


def ip_family(canonical: str) -> int:
    """4 or 6 for an address already returned by :func:`canonical_ip`."""
    return 6 if ":" in canonical else 4


def truncated_repr(value: object, limit: int = 80) -> str:
    """``repr(value)`` cut to ``limit`` characters (for rejection details)."""
    if isinstance(value, str | bytes) and len(value) > limit:
        value = value[:limit]  # never repr a 16 MB string just to cut it
    text = repr(value)
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return text


def _escape_char(c: str) -> str:
    n = ord(c)
    if n < 0x100:
        return f"\\x{n:02x}"
    if n < 0x10000:
        return f"\\u{n:04x}"
    return f"\\U{n:08x}"


def printable(text: object) -> str:
    """``text`` with every non-printable character (line breaks, escape sequences, bidi
    controls) written as a visible escape, for a terminal line: names from logs and
    policies are untrusted."""
    s = str(text)
    if s.isprintable():
        return s
    return "".join(c if c.isprintable() else _escape_char(c) for c in s)
