"""Replaying the chain: rebuilds the journal's state and checks every record.

One pass in chain order. For each record: its position, its parse, the stored
columns against the signed body, the signature (or a key's self-signature), the
stored hash, the link to the previous record, time order, and what the record may
do (a known, unrevoked key of the right role; gapless entry numbers; confirmations
in order). The first failure names the first entry that can no longer be trusted.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

from journal import canonical, signing
from journal.model import PERSON, STATION, Confirmation, Entry, KeyInfo, State
from ppe_tech.messages import _

KEY_CERT_TYPE = "ppe-tech-key/1"
PROGRESS_STEP = 4096
SIG_BATCH = 1024  # signatures per task of the verifying threads


@dataclass(frozen=True)
class Problem:
    code: str  # edited | removed | inserted | reordered | signature | unknown_key | revoked_key | truncated | rewritten | time | format | damaged
    seq: int | None
    first_bad: int | None
    message: str

    def as_json(self) -> dict:
        return {"problem": self.code, "record": self.seq, "first_bad": self.first_bad, "reason": self.message}


class _Fail(Exception):
    def __init__(self, code: str, message: str, first_bad: int | None = None):
        super().__init__(message)
        self.code, self.message, self.first_bad = code, message, first_bad


def check_cert(cert: object, cert_sig: bytes) -> KeyInfo | str:
    """A key certificate's checks: its form, key id and self-signature. KeyInfo, or what is wrong."""
    if not isinstance(cert, dict) or cert.get("type") != KEY_CERT_TYPE:
        return _("not a key certificate")
    try:
        algorithm = cert["algorithm"]
        public = signing.unb64(cert["public_key"])
        verifier = signing.verifier(algorithm, public)
    except (KeyError, ValueError, TypeError):
        return _("damaged key certificate")
    if cert.get("key_id") != signing.key_id(algorithm, public):
        return _("key id does not match the public key")
    if cert.get("role") not in (PERSON, STATION):
        return _("unknown key role")
    if not verifier.verify(cert_sig, canonical.encode(cert)):
        return _("the key's self-signature is invalid")
    return KeyInfo(cert["key_id"], algorithm, public, str(cert.get("name", "")), str(cert.get("position", "")),
                   cert["role"], str(cert.get("created", "")), 0, cert=cert, cert_sig=cert_sig)


class Replay:
    """Replays rows `(seq, kind, number, ts, body, sig, hash)` in chain order."""

    def __init__(self, pool: Executor | None = None) -> None:
        """`pool`: threads that check signatures while this thread checks the rest (see `replay`)."""
        self.state = State()
        self.hashes: list[bytes] = []
        self.problem: Problem | None = None
        self._verifiers: dict[str, signing.Verifier] = {}
        self._pool = pool
        self._pending: list[tuple] = []
        self._checks: list[Future] = []

    def _sig_ok(self, verifier: signing.Verifier, sig: bytes, body: bytes, seq: int) -> bool:
        """Check now, or queue for the pool (then True: a bad one makes `replay` start over sequentially)."""
        if self._pool is None:
            return verifier.verify(sig, body)
        self._pending.append((verifier, sig, body, seq))
        if len(self._pending) >= SIG_BATCH:
            self._flush()
        return True

    def _flush(self) -> None:
        if self._pending:
            self._checks.append(self._pool.submit(_first_bad_signature, self._pending))  # type: ignore[union-attr]
            self._pending = []

    def bad_signature(self) -> int | None:
        """After a run with a pool: the first record whose queued signature is invalid, or None."""
        self._flush()
        bad = [seq for seq in (check.result() for check in self._checks) if seq is not None]
        return min(bad) if bad else None

    def run(self, rows: Iterable[tuple], progress: Callable[[int], None] | None = None) -> "Replay":
        """Replay `rows`; `progress(n)` is called every PROGRESS_STEP records."""
        state = self.state
        entries = state.entries
        keys = state.keys
        verifiers = self._verifiers
        hashes = self.hashes
        loads = json.loads
        sha256 = hashlib.sha256
        prev_hex = ""
        last_ts = ""
        seq = 0
        try:
            for seq, kind, number, ts, body, sig, stored_hash in rows:
                expected = len(hashes) + 1
                if seq != expected:
                    raise _Fail("removed", _("records {a}–{b} are missing (removed)").format(a=expected, b=seq - 1)
                                if seq > expected else _("record {seq} is out of order").format(seq=seq))
                try:
                    doc = loads(body)
                except (ValueError, UnicodeDecodeError):
                    raise _Fail("edited", _("record {seq} is not readable (edited)").format(seq=seq)) from None
                if type(doc) is not dict:
                    raise _Fail("edited", _("record {seq} is not readable (edited)").format(seq=seq))
                if doc.get("seq") != seq:
                    raise _Fail("reordered", _("record at position {seq} is signed as record {other}: records were "
                                               "moved, inserted or removed before it").format(seq=seq, other=doc.get("seq")))
                if doc.get("kind") != kind or doc.get("ts") != ts or doc.get("number") != number:
                    raise _Fail("edited", _("record {seq}: the stored columns differ from the signed record (edited)").format(seq=seq))
                if kind == "entry":
                    by = doc.get("by")
                    key = keys.get(by)
                    if key is None:
                        raise _Fail("unknown_key", _("entry {n} is signed by unknown key {key}").format(n=number, key=by))
                    if sig is None or not self._sig_ok(verifiers[by], sig, body, seq):
                        raise _Fail("signature", _("entry {n}: signature invalid (the entry was edited or its signature replaced)").format(n=number))
                    if key.revoked_seq is not None:
                        raise _Fail("revoked_key", _("entry {n} is signed by key {key}, revoked at record {r}").format(
                            n=number, key=by, r=key.revoked_seq))
                    want = len(entries) + 1
                    if number != want:
                        if isinstance(number, int) and number > want:
                            raise _Fail("removed", _("entry {n} is missing (removed)").format(n=want))
                        raise _Fail("reordered", _("entry {n} appears where entry {want} belongs").format(n=number, want=want))
                    try:
                        entries.append(Entry(number, seq, ts, doc["date"], doc["room"], doc["start"], doc["end"],
                                             doc["action"], by))
                    except KeyError:
                        raise _Fail("format", _("entry {n} lacks a field").format(n=number)) from None
                elif kind == "confirm":
                    self._confirm(doc, seq, ts, sig, body)
                elif kind == "key":
                    self._key(doc, seq)
                elif kind == "revoke":
                    self._revoke(doc, seq, ts, sig, body)
                elif kind == "genesis":
                    if seq != 1 or doc.get("prev") != "":
                        raise _Fail("inserted", _("record {seq}: a second start of the journal").format(seq=seq))
                    state.journal_id = str(doc.get("journal", ""))
                    state.region, state.ppe = str(doc.get("region", "")), str(doc.get("ppe", ""))
                else:
                    raise _Fail("format", _("record {seq} has unknown kind {kind!r}").format(seq=seq, kind=kind))
                digest = sha256(body).digest()
                if digest != stored_hash:
                    raise _Fail("edited", _("record {seq}: stored hash differs from the record (edited)").format(seq=seq))
                if doc.get("prev") != prev_hex:
                    raise _Fail("inserted", _("record {seq} does not follow record {p}: a record before it was edited, "
                                              "inserted or removed").format(seq=seq, p=seq - 1))
                if seq > 1 and doc.get("journal") != state.journal_id:
                    raise _Fail("inserted", _("record {seq} belongs to another journal").format(seq=seq))
                if ts < last_ts:
                    raise _Fail("time", _("record {seq}: its time goes backwards").format(seq=seq))
                if seq == 1 and kind != "genesis":
                    raise _Fail("format", _("the journal does not start with its first record"))
                last_ts = ts
                prev_hex = digest.hex()
                hashes.append(digest)
                if progress is not None and not seq % PROGRESS_STEP:
                    progress(PROGRESS_STEP)
        except _Fail as fail:
            first_bad = fail.first_bad if fail.first_bad is not None else len(entries) + 1
            self.problem = Problem(fail.code, seq, first_bad, fail.message)
        except (TypeError, ValueError, KeyError, AttributeError, OverflowError):
            # a column of the wrong type or a field of the wrong shape: written by hand, not by ppe-tech
            self.problem = Problem("edited", seq, len(entries) + 1,
                                   _("record {seq} is damaged: a field has the wrong type (edited)").format(seq=seq))
        state.records = len(hashes)
        state.head_hash = prev_hex
        state.head_ts = last_ts
        return self

    def _signed_by(self, doc: dict, sig: bytes | None, body: bytes, seq: int, *, roles: tuple[str, ...]) -> KeyInfo:
        by = doc.get("by")
        key = self.state.keys.get(by)
        if key is None:
            raise _Fail("unknown_key", _("record {seq} is signed by unknown key {key}").format(seq=seq, key=by))
        if sig is None or not self._sig_ok(self._verifiers[by], sig, body, seq):
            raise _Fail("signature", _("record {seq}: signature invalid").format(seq=seq))
        if key.revoked_seq is not None:
            raise _Fail("revoked_key", _("record {seq} is signed by revoked key {key}").format(seq=seq, key=by))
        if key.role not in roles:
            raise _Fail("signature", _("record {seq}: a {role} key may not sign it").format(seq=seq, role=key.role))
        return key

    def _confirm(self, doc: dict, seq: int, ts: str, sig: bytes | None, body: bytes) -> None:
        first, last = doc.get("from"), doc.get("upto")
        # the entries it claims to confirm, if it names real ones (its fields may be what was tampered with)
        bad = first if type(first) is int and 1 <= first <= len(self.state.entries) else None
        try:
            key = self._signed_by(doc, sig, body, seq, roles=(PERSON,))
        except _Fail as fail:
            fail.first_bad = bad
            raise
        state = self.state
        if first != state.confirmed_upto + 1 or not isinstance(last, int) or not first <= last <= len(state.entries):
            raise _Fail("edited", _("record {seq}: confirmation of entries {a}–{b} does not fit the journal").format(
                seq=seq, a=first, b=last), bad)
        confirmation = Confirmation(seq, ts, key.key_id, first, last)
        state.confirmations.append(confirmation)
        for entry in state.entries[first - 1:last]:
            entry.confirmation = confirmation

    def _key(self, doc: dict, seq: int) -> None:
        try:
            cert_sig = signing.unb64(doc.get("cert_sig", ""))
        except (ValueError, TypeError):
            raise _Fail("edited", _("record {seq}: damaged key registration").format(seq=seq)) from None
        result = check_cert(doc.get("cert"), cert_sig)
        if isinstance(result, str):
            raise _Fail("edited", _("record {seq}: key registration: {why}").format(seq=seq, why=result))
        if result.key_id in self.state.keys:
            raise _Fail("inserted", _("record {seq}: key {key} registered twice").format(seq=seq, key=result.key_id))
        key = dataclasses.replace(result, registered_seq=seq)
        self.state.keys[key.key_id] = key
        self._verifiers[key.key_id] = signing.verifier(key.algorithm, key.public_key)

    def _revoke(self, doc: dict, seq: int, ts: str, sig: bytes | None, body: bytes) -> None:
        target = doc.get("key")
        signer = self._signed_by(doc, sig, body, seq, roles=(PERSON, STATION))
        victim = self.state.keys.get(target)
        if victim is None or victim.revoked_seq is not None:
            raise _Fail("edited", _("record {seq}: revokes an unknown or already revoked key").format(seq=seq))
        if signer.role == STATION and signer.key_id != target:
            raise _Fail("signature", _("record {seq}: the station may revoke only its own key").format(seq=seq))
        self.state.keys[target] = dataclasses.replace(victim, revoked_seq=seq, revoked_ts=ts)


def _first_bad_signature(batch: list[tuple]) -> int | None:
    for verifier, sig, body, seq in batch:
        try:
            if not verifier.verify(sig, body):
                return seq
        except (TypeError, ValueError):  # a column of the wrong type: the sequential pass names it
            return seq
    return None


def replay(rows: Iterable[tuple] | Callable[[], Iterable[tuple]],
           progress: Callable[[int], None] | None = None, *, threads: int | None = None) -> Replay:
    """Replay a chain; the result is the same as one sequential pass over it.

    Given `rows` as a function (so the rows can be read again) and more than one CPU,
    signatures are checked by a pool of threads (Ed25519 verification releases the GIL)
    while this thread checks everything else. If any signature is invalid, the chain is
    replayed again sequentially, so the problem reported is exactly the first one.
    """
    if not callable(rows):
        return Replay().run(rows, progress)
    threads = threads if threads is not None else min(4, os.cpu_count() or 1)
    if threads <= 1:
        return Replay().run(rows(), progress)
    with ThreadPoolExecutor(threads, thread_name_prefix="ppe-verify") as pool:
        fast = Replay(pool).run(rows(), progress)
        bad = fast.bad_signature()
    if bad is None:
        fast._pool = None
        return fast
    return Replay().run(rows())
