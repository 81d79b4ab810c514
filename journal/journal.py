"""The journal service: the one writer of the journal, and its readers.

Appending builds a record inside a `BEGIN IMMEDIATE` transaction from the head it
reads there, signs its canonical bytes and inserts it; so numbers stay gapless and
the chain never forks, whatever number of processes append at once.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable

from journal import canonical, chain, checkpoint, keystore, signing
from journal.chain import KEY_CERT_TYPE, Problem, Replay, check_cert
from journal.model import PERSON, STATION, KeyInfo, State
from journal.store import JournalDamaged, Store, Tx, damaged, translate
from ppe_tech.errors import BadInput, Tampered
from ppe_tech.messages import _, ngettext
from ppe_tech.timeutil import iso_utc, utc_now

PUBLIC_FORMAT = "ppe-tech-public-keys/1"
MAX_TEXT = {"room": 200, "action": 500, "name": 200, "position": 200, "reason": 500}
from ppe_tech.text import invisible  # noqa: E402 (shared with the config's checks)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def clean_text(field: str, value: str) -> str:
    """Trim and check a text that goes into a record: not empty, one line, not too long."""
    text = (value or "").strip()
    if not text:
        raise BadInput(_("{field} must not be empty").format(field=field))
    if _CONTROL.search(text):
        raise BadInput(_("{field} must be one line without control characters").format(field=field))
    hidden = invisible(text)
    if hidden:
        raise BadInput(_("{field} holds a character that is not shown or changes how text reads ({chars}): "
                         "type it again without it").format(field=field, chars=", ".join(hidden)))
    limit = MAX_TEXT.get(field, 500)
    if len(text) > limit:
        raise BadInput(ngettext("{field} is {n} character long; at most {limit} are allowed",
                                "{field} is {n} characters long; at most {limit} are allowed",
                                len(text)).format(field=field, n=len(text), limit=limit))
    return text


@dataclass(frozen=True)
class Appended:
    seq: int
    ts: str
    number: int | None = None


class Journal:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] = utc_now, region: str = "", ppe: str = ""):
        self.store = store
        self.clock = clock
        self.region, self.ppe = region, ppe

    @classmethod
    def open(cls, location: Path | str, *, create: bool = False, durable: bool = True, readonly: bool = False,
             **kwargs) -> "Journal":
        """The journal at `location`: a SQLite file, or a postgresql:// URL (the chain of the ППЭ given by
        `region` and `ppe`)."""
        from journal import pgstore

        if pgstore.is_url(location):
            store = pgstore.PgStore.open(str(location), region=kwargs.get("region", ""), ppe=kwargs.get("ppe", ""),
                                         create=create, readonly=readonly)
            return cls(store, **kwargs)  # type: ignore[arg-type]
        return cls(Store.open(Path(location), create=create, durable=durable, readonly=readonly), **kwargs)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        if isinstance(exc, sqlite3.Error):  # whatever a command did with the file: named, never a crash
            raise translate(exc, Path(str(self.store.path))) from None

    # -- reading -----------------------------------------------------------------------

    def size(self) -> int:
        """The number of records (cheap: the last position)."""
        return self.store.size()

    def replay(self, progress: Callable[[int], None] | None = None) -> Replay:
        return chain.replay(self.store.raw_rows, progress)

    def verify(self, witness: dict | None = None, progress: Callable[[int], None] | None = None, *,
               full: bool = False) -> tuple[Replay, Problem | None]:
        """The file's own pages (SQLite's quick check, or the full integrity check), then every
        record replayed; then the checkpoints stored here and `witness`, if given. A damaged
        file is a failed verification, as tampering is."""
        damage = self.store.check_file(full)
        try:
            if not damage:
                return self._verify(witness, progress)
        except JournalDamaged as exc:
            damage = [exc.message.rpartition(": ")[2]]
        except sqlite3.DatabaseError as exc:
            damage = [str(exc)]
        lines = [" ".join(line.split()) for d in damage for line in d.replace("*** in database main ***", "").splitlines()]
        lines = [line for line in lines if line]
        what = "; ".join(lines[:3]) + (_(" (and {n} more)").format(n=len(lines) - 3) if len(lines) > 3 else "")
        return Replay(), Problem("damaged", None, None, damaged(Path(str(self.store.path)), what).message)

    def _verify(self, witness: dict | None, progress: Callable[[int], None] | None) -> tuple[Replay, Problem | None]:
        replay = self.replay(progress)
        problem = replay.problem
        if problem is None:
            for doc in self.store.checkpoints():
                try:
                    stored = checkpoint.parse(doc, "stored checkpoint")
                except (BadInput, Tampered) as exc:
                    return replay, Problem("edited", None, None, exc.message)
                problem = checkpoint.check(replay, stored)
                if problem:
                    break
        if problem is None and witness is not None:
            problem = checkpoint.check(replay, witness)
        return replay, problem

    def state(self) -> State:
        return self.replay().state

    def registered_key_ids(self) -> set[str]:
        """The ids of the keys registered here, read from the key records alone (no replay)."""
        ids = set()
        for body in self.store.key_bodies():
            try:
                ids.add(json.loads(body)["cert"]["key_id"])
            except (ValueError, KeyError, TypeError):
                continue
        return ids

    # -- appending ---------------------------------------------------------------------

    def _append(self, kind: str, build: Callable[[Tx], dict], signer: signing.Signer | None) -> Appended:
        with self.store.transaction() as tx:
            head = tx.head()
            if head is None:
                genesis = {"v": 1, "kind": "genesis", "seq": 1, "prev": "", "ts": iso_utc(self.clock()),
                           "journal": str(uuid.uuid4()), "region": self.region, "ppe": self.ppe}
                raw = canonical.encode(genesis)
                tx.insert(1, "genesis", None, genesis["ts"], raw, None, hashlib.sha256(raw).digest())
                head = tx.head()
                assert head is not None
            journal_id = json.loads(tx.first_body() or b"{}").get("journal", "")
            fields = build(tx)
            seq = head.seq + 1
            ts = max(iso_utc(self.clock()), head.ts)
            body = {"v": 1, "kind": kind, "seq": seq, "prev": head.hash.hex(), "ts": ts, "journal": journal_id, **fields}
            raw = canonical.encode(body)
            sig = signer.sign(raw) if signer is not None else None
            tx.insert(seq, kind, fields.get("number"), ts, raw, sig, hashlib.sha256(raw).digest())
        return Appended(seq, ts, fields.get("number"))

    @staticmethod
    def _registry(tx: Tx) -> dict[str, tuple[str, bool]]:
        """key id -> (role, revoked), from the key and revoke records."""
        keys: dict[str, tuple[str, bool]] = {}
        for raw in tx.bodies("key", "revoke"):
            doc = json.loads(raw)
            if doc["kind"] == "key":
                keys[doc["cert"]["key_id"]] = (doc["cert"]["role"], False)
            elif doc["key"] in keys:
                keys[doc["key"]] = (keys[doc["key"]][0], True)
        return keys

    @staticmethod
    def _holders(tx: Tx) -> dict[str, str]:
        """key id -> the holder's name, from the key records."""
        return {doc["cert"]["key_id"]: doc["cert"]["name"]
                for doc in map(json.loads, tx.bodies("key")) if doc.get("kind") == "key"}

    def _own_entries(self, tx: Tx, by: str, first: int, last: int) -> list[int]:
        """Numbers in first..last of the entries made by `by` or by another key of the same holder."""
        from journal.custody import same_person

        names = self._holders(tx)
        confirmer = {"key_id": by, "name": names.get(by, "")}
        own = []
        for doc in map(json.loads, tx.entry_bodies(first, last)):
            number = doc.get("number")
            if isinstance(number, int) and first <= number <= last and same_person(
                    {"key_id": doc.get("by"), "name": names.get(doc.get("by"), "")}, confirmer):
                own.append(number)
        return own

    def _require_signer(self, tx: Tx, key_id: str, roles: tuple[str, ...]) -> None:
        known = self._registry(tx).get(key_id)
        if known is None:
            raise BadInput(_("key {key} is not registered in this journal").format(key=key_id))
        role, revoked = known
        if revoked:
            raise BadInput(_("key {key} is revoked").format(key=key_id))
        if role not in roles:
            raise BadInput(_("the station's key cannot do this; use a person's key").format(key=key_id))

    def register_key(self, cert: dict, cert_sig: bytes) -> Appended:
        result = check_cert(cert, cert_sig)
        if isinstance(result, str):
            raise BadInput(_("cannot register the key: {why}").format(why=result))

        def build(tx: Tx) -> dict:
            if result.key_id in self._registry(tx):
                raise BadInput(_("key {key} is already registered").format(key=result.key_id))
            return {"cert": cert, "cert_sig": signing.b64(cert_sig)}
        return self._append("key", build, None)

    def revoke(self, target: str, by: str, signer: signing.Signer, reason: str) -> Appended:
        reason = clean_text("reason", reason)

        def build(tx: Tx) -> dict:
            registry = self._registry(tx)
            if target not in registry:
                raise BadInput(_("key {key} is not registered in this journal").format(key=target))
            if registry[target][1]:
                raise BadInput(_("key {key} is already revoked").format(key=target))
            self._require_signer(tx, by, (PERSON,) if by != target else (PERSON, STATION))
            return {"key": target, "by": by, "reason": reason}
        return self._append("revoke", build, signer)

    def add(self, *, date: str, room: str, start: str, end: str | None, action: str, by: str,
            signer: signing.Signer) -> Appended:
        room, action = clean_text("room", room), clean_text("action", action)
        if end is not None and end < start:
            raise BadInput(_("end time {end} is before start time {start}").format(end=end, start=start))

        def build(tx: Tx) -> dict:
            self._require_signer(tx, by, (PERSON, STATION))
            return {"number": tx.last_number() + 1, "date": date, "room": room, "start": start, "end": end,
                    "action": action, "by": by}
        return self._append("entry", build, signer)

    def confirm(self, *, by: str, signer: signing.Signer, upto: int | None = None) -> tuple[int, int]:
        span: list[int] = []

        def build(tx: Tx) -> dict:
            self._require_signer(tx, by, (PERSON,))
            last_confirm = tx.last_body("confirm")
            first = (json.loads(last_confirm)["upto"] if last_confirm else 0) + 1
            last_number = tx.last_number()
            last = last_number if upto is None else upto
            if upto is not None and upto > last_number:
                raise BadInput(_("--upto {n}: the journal has only {m} entries").format(n=upto, m=last_number))
            if last < first:
                raise BadInput(_("nothing to confirm: entries up to {n} are confirmed already").format(n=first - 1))
            own = self._own_entries(tx, by, first, last)
            if own:
                raise BadInput(_("entries {numbers} were made by the holder of key {key} ({name}); column 7 is "
                                 "another person's confirmation: the head of the exam point (or the one "
                                 "responsible for video surveillance) confirms them with their own key{upto}").format(
                    numbers=", ".join(map(str, own)), key=by, name=self._holders(tx).get(by, ""),
                    upto=_(", or confirm up to {n} with --upto").format(n=own[0] - 1) if own[0] > first else ""))
            span[:] = [first, last]
            return {"from": first, "upto": last, "by": by}
        self._append("confirm", build, signer)
        return span[0], span[1]

    def checkpoint(self, key: KeyInfo, signer: signing.Signer) -> dict:
        """Sign a checkpoint of the current head (after verifying the chain) and keep a copy."""
        replay, problem = self.verify()
        if problem is not None:
            raise BadInput(_("the journal fails verification, no checkpoint made: {why}").format(why=problem.message))
        if key.key_id not in replay.state.keys or replay.state.keys[key.key_id].revoked_seq is not None:
            raise BadInput(_("key {key} is not a valid key of this journal").format(key=key.key_id))
        doc = checkpoint.sign(replay.state.head(), key, signer, iso_utc(self.clock()))
        with self.store.transaction() as tx:
            tx.add_checkpoint(doc["records"], checkpoint.dumps(doc))
        return doc


def new_cert(signer: signing.Signer, *, name: str, position: str, role: str, created: str) -> tuple[dict, bytes]:
    cert = {"type": KEY_CERT_TYPE, "key_id": signing.key_id(signer.algorithm, signer.public_key),
            "algorithm": signer.algorithm, "public_key": signing.b64(signer.public_key),
            "name": clean_text("name", name), "position": clean_text("position", position), "role": role,
            "created": created}
    return cert, signer.sign(canonical.encode(cert))


def create_key(journal: Journal, keys_dir: Path, *, name: str, position: str, station: bool,
               passphrase: str | None, target: Path | None = None) -> KeyInfo:
    """Make a key pair, store the private key (0600; in `keys_dir`, or at `target`, e.g. removable
    media) and register the public key in the journal."""
    if not station and (passphrase is None or len(passphrase) < keystore.MIN_PASSPHRASE):
        raise BadInput(_("the passphrase must be at least {n} characters").format(n=keystore.MIN_PASSPHRASE))
    signer = signing.generate()
    cert, cert_sig = new_cert(signer, name=name, position=position, role=STATION if station else PERSON,
                              created=iso_utc(journal.clock()))
    path = keystore.write_private_key(keys_dir, signer, key_id=cert["key_id"], name=cert["name"],
                                      position=cert["position"], role=cert["role"], passphrase=passphrase,
                                      target=target)
    try:
        appended = journal.register_key(cert, cert_sig)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    info = check_cert(cert, cert_sig)
    assert isinstance(info, KeyInfo)
    return dataclasses.replace(info, registered_seq=appended.seq)


def export_public(keys: list[KeyInfo]) -> bytes:
    """The public key file: each certificate as registered, with its holder's self-signature."""
    doc = {"format": PUBLIC_FORMAT,
           "keys": [{"cert": key.cert, "cert_sig": signing.b64(key.cert_sig)} for key in keys]}
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def read_public(data: bytes, source: str) -> list[KeyInfo]:
    """The keys of a file written by `keys export`, every certificate checked (bad input otherwise)."""
    try:
        doc = json.loads(data.decode("utf-8"))
        if not isinstance(doc, dict) or doc.get("format") != PUBLIC_FORMAT or not isinstance(doc.get("keys"), list):
            raise ValueError
        items = [(item["cert"], signing.unb64(item["cert_sig"])) for item in doc["keys"]]
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError, RecursionError):
        raise BadInput(_("{source} is not a ppe-tech public key file").format(source=source)) from None
    checked = []
    for cert, cert_sig in items:
        result = check_cert(cert, cert_sig)
        if isinstance(result, str):
            raise BadInput(_("{source}: {why}").format(source=source, why=result))
        checked.append(result)
    return checked


def import_public(journal: Journal, data: bytes, source: str) -> tuple[list[KeyInfo], list[str]]:
    """Register the public keys of a file written by `keys export`: (registered, already known ids).

    Every certificate is checked before any is registered, so a bad file changes nothing.
    """
    checked = read_public(data, source)
    known = journal.state().keys if journal.size() else {}
    registered, skipped = [], []
    for info in checked:
        cert, cert_sig = info.cert, info.cert_sig
        if info.key_id in known:
            skipped.append(info.key_id)
            continue
        appended = journal.register_key(cert, cert_sig)
        registered.append(dataclasses.replace(info, registered_seq=appended.seq))
    return registered, skipped
