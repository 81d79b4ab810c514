"""Text a reader must see as it was written: one check for the journal and the config."""

from __future__ import annotations

import unicodedata


def invisible(text: str) -> list[str]:
    """The characters of `text` a reader would not see as written, as U+XXXX: zero-width and
    bidirectional controls (Cf: «01\u200b01» prints as 0101), line separators, and bytes that
    were not UTF-8 (surrogates from the command line)."""
    found = []
    for ch in text:
        if unicodedata.category(ch) in ("Cf", "Cs", "Co", "Zl", "Zp"):
            code = f"U+{ord(ch):04X}"
            if code not in found:
                found.append(code)
    return found
