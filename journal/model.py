"""The journal's domain objects: keys, entries, confirmations, the head."""

from __future__ import annotations

from dataclasses import dataclass, field

from journal import signing

PERSON, STATION = "person", "station"


@dataclass(frozen=True)
class KeyInfo:
    """A key registered in the journal: who held it, since when, until when."""
    key_id: str
    algorithm: str
    public_key: bytes
    name: str
    position: str
    role: str  # person | station
    created: str
    registered_seq: int
    revoked_seq: int | None = None
    revoked_ts: str | None = None
    cert: dict = field(default_factory=dict, compare=False, repr=False)  # as registered, for export
    cert_sig: bytes = field(default=b"", compare=False, repr=False)

    @property
    def fingerprint(self) -> str:
        return signing.fingerprint(self.algorithm, self.public_key)

    @property
    def is_station(self) -> bool:
        return self.role == STATION

    def as_json(self) -> dict:
        return {"key_id": self.key_id, "name": self.name, "position": self.position, "algorithm": self.algorithm,
                "role": self.role, "fingerprint": self.fingerprint, "created": self.created,
                "revoked": self.revoked_ts}


@dataclass(frozen=True)
class Confirmation:
    seq: int
    ts: str
    key_id: str
    first: int
    last: int


@dataclass
class Entry:
    """One row of the official form."""
    number: int
    seq: int
    ts: str
    date: str
    room: str
    start: str
    end: str | None
    action: str
    key_id: str
    confirmation: Confirmation | None = None

    def as_json(self, keys: dict[str, KeyInfo]) -> dict:
        actor = keys.get(self.key_id)
        doc = {"number": self.number, "date": self.date, "room": self.room, "start": self.start, "end": self.end,
               "action": self.action, "recorded_at": self.ts,
               "actor": _person(actor, self.key_id), "confirmed_by": None}
        if self.confirmation is not None:
            doc["confirmed_by"] = _person(keys.get(self.confirmation.key_id), self.confirmation.key_id)
            doc["confirmed_by"]["confirmed_at"] = self.confirmation.ts
        return doc


def _person(key: KeyInfo | None, key_id: str) -> dict:
    if key is None:
        return {"name": None, "position": None, "key_id": key_id, "station": False}
    return {"name": key.name, "position": key.position, "key_id": key_id, "station": key.is_station,
            "fingerprint": key.fingerprint}


@dataclass(frozen=True)
class Head:
    """Where the chain ends: what a checkpoint states."""
    journal_id: str
    region: str
    ppe: str
    records: int
    entries: int
    hash: str
    ts: str


@dataclass
class State:
    """The journal as replayed from its records."""
    journal_id: str = ""
    region: str = ""
    ppe: str = ""
    keys: dict[str, KeyInfo] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    confirmations: list[Confirmation] = field(default_factory=list)
    records: int = 0
    head_hash: str = ""
    head_ts: str = ""

    @property
    def confirmed_upto(self) -> int:
        return self.confirmations[-1].last if self.confirmations else 0

    def head(self) -> Head:
        return Head(self.journal_id, self.region, self.ppe, self.records, len(self.entries), self.head_hash,
                    self.head_ts)
