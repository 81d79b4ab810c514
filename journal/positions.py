"""The positions (должности) of the people who act on the ПАК and sign the journal.

The staff lists of the regional system name these categories; a key may carry another
position (the journal keeps it as given), and `keys create` says when it is not one of them.
"""

from __future__ import annotations

KNOWN_POSITIONS = (
    "технический специалист",
    "технический специалист по видеонаблюдению",
    "руководитель ППЭ",
    "член ГЭК",
    "ответственный за видеонаблюдение",
    "руководитель образовательной организации",
)


def normalise(position: str) -> str:
    return " ".join(position.split()).casefold()


def is_known(position: str) -> bool:
    """Whether `position` is one of KNOWN_POSITIONS (case and spaces aside)."""
    return normalise(position) in {normalise(p) for p in KNOWN_POSITIONS}
