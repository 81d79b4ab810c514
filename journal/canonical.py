"""The canonical encoding of records: what is hashed and signed.

UTF-8 JSON with sorted keys and no insignificant white space; values are strings,
whole numbers, booleans, null, lists and objects (no floats, so there is one way to
write every value). The stored bytes are the signed bytes; readers parse them.
"""

from __future__ import annotations

import json
from typing import Any


def encode(value: Any) -> bytes:
    _reject_floats(value)
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(data: bytes) -> Any:
    return json.loads(data)


def _reject_floats(value: Any) -> None:
    if isinstance(value, float):
        raise TypeError("floats have no canonical form here; use integers or strings")
    if isinstance(value, dict):
        for item in value.values():
            _reject_floats(item)
    elif isinstance(value, list):
        for item in value:
            _reject_floats(item)
