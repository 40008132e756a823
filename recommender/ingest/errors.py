"""The one error that stops reading an input: below every reader and opener, so each can raise
it without importing the others."""

from __future__ import annotations

_ESCAPE_BREAKS = {10: "\\n", 13: "\\r", 0x85: "\\x85", 0x2028: "\\u2028", 0x2029: "\\u2029"}


class InputError(Exception):
    """Input that cannot be read at all (missing path, unknown format, unreadable Parquet).

    The message is one clear line that names the file (line breaks, e.g. in a hostile file
    name, are escaped).
    """

    def __init__(self, message: str) -> None:
        super().__init__(message.translate(_ESCAPE_BREAKS))
