"""Standard output and error that never fail to encode: UTF-8 when redirected or narrow.

Windows CPython writes to a pipe or a file in the ANSI code page (cp1252, cp1251), and a POSIX
Python under LANG=C in ASCII; either crashes with UnicodeEncodeError on ✓/✗ or on Russian
text. JSON and redirected output are UTF-8 on every platform; a terminal keeps its encoding
when it can show what we print (the Windows console is UTF-16 and always can).
"""

from __future__ import annotations

import io
import sys

# what the command line prints besides ASCII: the check marks and Russian
SAMPLE = "✓✗—«»Ёё"


def can_encode(encoding: str | None, text: str = SAMPLE) -> bool:
    """Whether `encoding` can write `text` (an unknown encoding cannot)."""
    try:
        text.encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return False
    return True


def make_utf8(stream):
    """Reconfigure one text stream to UTF-8 if it is not a terminal or cannot encode SAMPLE."""
    if not isinstance(stream, io.TextIOWrapper):
        return stream  # captured, replaced or closed by someone else: leave it alone
    try:
        terminal = stream.isatty()
    except (ValueError, OSError):
        return stream
    if terminal and can_encode(stream.encoding):
        return stream
    # backslashreplace: a lone surrogate (an undecodable file name) shows as \udcxx, never crashes
    stream.reconfigure(encoding="utf-8", errors="backslashreplace")
    return stream


def setup_standard_streams() -> None:
    """At the start of the console script: stdout and stderr as make_utf8 says."""
    make_utf8(sys.stdout)
    make_utf8(sys.stderr)
