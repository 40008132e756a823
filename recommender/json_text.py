"""report.json's text: ``json.dumps(obj, indent=2, sort_keys=True)``'s exact bytes, fast.

With ``indent`` the standard library encodes in pure Python (0.1 s for the report of 730
policies). msgspec writes the same document in C; it is used only when its compact form
equals the standard library's compact C encoding byte for byte (same key order, number
forms, escapes), and its indenting then gives the same text. msgspec leaves non-ASCII text
(the window's verdict has an em dash) as it is: it is escaped afterwards as the standard
library's ``ensure_ascii`` does, before the comparison. Anything else they write apart (NaN,
floats in exponent form, keys that are not text) takes the standard library's indented
path as before.
"""

from __future__ import annotations

import json
import re
from typing import Any


def dumps_sorted(obj: Any) -> str:
    """``json.dumps(obj, indent=2, sort_keys=True)``, byte for byte."""
    import msgspec  # on use: only writing a report needs it

    try:
        fast = msgspec.json.encode(obj, order="sorted")
    except (TypeError, ValueError, msgspec.EncodeError):
        fast = None
    if fast is not None:
        text = _ascii(fast.decode())
        if text == json.dumps(obj, sort_keys=True, separators=(",", ":")):
            return _ascii(msgspec.json.format(fast, indent=2).decode())
    return json.dumps(obj, indent=2, sort_keys=True)


_NON_ASCII = re.compile(r"[^\x00-\x7e]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04x}\\u{0xDC00 | (code & 0x3FF):04x}"


def _ascii(text: str) -> str:
    """``ensure_ascii``: DEL and non-ASCII characters (only ever inside strings) as ``\\u``
    escapes, surrogate pairs past U+FFFF, as the standard library writes them."""
    return _NON_ASCII.sub(_escape, text)
