"""Checkpoints: a signed statement of the journal's size and head hash.

The commission head keeps the file off the machine; verifying the journal against
it catches truncation (fewer records than it states) and rollback or rewriting (a
different hash at its position). Paper is a witness too: the printout carries the
head as text and QR code, in the same form without a signature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from journal import canonical, signing
from journal.chain import Problem, Replay
from journal.model import Head, KeyInfo
from ppe_tech.errors import BadInput, Tampered
from ppe_tech.messages import _

FORMAT = "ppe-tech-checkpoint/1"


def statement(head: Head) -> dict:
    return {"format": FORMAT, "journal": head.journal_id, "region": head.region, "ppe": head.ppe,
            "records": head.records, "entries": head.entries, "head": head.hash, "head_ts": head.ts}


def sign(head: Head, key: KeyInfo, signer: signing.Signer, ts: str) -> dict:
    doc = statement(head)
    doc.update({"ts": ts, "by": key.key_id, "name": key.name, "position": key.position,
                "algorithm": key.algorithm, "public_key": signing.b64(key.public_key)})
    doc["sig"] = signing.b64(signer.sign(canonical.encode(doc)))
    return doc


def dumps(doc: dict) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def parse(data: bytes, source: str) -> dict:
    """Read a checkpoint file (or the text of a printout's QR code); check its form and signature."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadInput(_("{source} is not a ppe-tech checkpoint").format(source=source)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadInput(_("{source} is not a ppe-tech checkpoint").format(source=source))
    for name, kind in (("journal", str), ("records", int), ("entries", int), ("head", str)):
        if not isinstance(doc.get(name), kind):
            raise BadInput(_("{source}: checkpoint field {field} is missing or wrong").format(source=source, field=name))
    if "sig" in doc:
        body = {k: v for k, v in doc.items() if k != "sig"}
        try:
            public = signing.unb64(doc["public_key"])
            ok = (signing.key_id(doc["algorithm"], public) == doc.get("by")
                  and signing.verifier(doc["algorithm"], public).verify(signing.unb64(doc["sig"]), canonical.encode(body)))
        except (KeyError, ValueError, TypeError, AttributeError, RecursionError):
            ok = False
        if not ok:
            raise Tampered(_("{source}: the checkpoint's signature is invalid (the file was altered)").format(source=source))
    return doc


@dataclass(frozen=True)
class Witness:
    signed_by: str | None
    records: int
    entries: int


def check(replay: Replay, doc: dict) -> Problem | None:
    """Compare the replayed journal with a checkpoint; None when the journal extends it."""
    state = replay.state
    if doc["journal"] != state.journal_id:
        return Problem("rewritten", None, None, _("the checkpoint belongs to another journal ({id})").format(id=doc["journal"]))
    records, entries = doc["records"], doc["entries"]
    by = doc.get("by")
    if by and by in state.keys and signing.b64(state.keys[by].public_key) != doc.get("public_key"):
        return Problem("rewritten", None, None, _("the checkpoint's signer {key} differs from the key registered under that id").format(key=by))
    if records > len(replay.hashes):
        return Problem("truncated", len(replay.hashes) + 1, len(state.entries) + 1,
                       _("truncated: the checkpoint of {ts} states {r} records and {e} entries, the journal has {r2} and {e2}").format(
                           ts=doc.get("ts", doc.get("head_ts", "?")), r=records, e=entries, r2=len(replay.hashes), e2=len(state.entries)))
    if records and replay.hashes[records - 1].hex() != doc["head"]:
        return Problem("rewritten", records, None,
                       _("rolled back or rewritten: record {r} differs from the checkpoint of {ts}").format(
                           r=records, ts=doc.get("ts", doc.get("head_ts", "?"))))
    numbered = sum(1 for e in state.entries if e.seq <= records)
    if numbered != entries:
        return Problem("rewritten", records, None, _("the checkpoint counts {e} entries, the journal {n} up to it").format(e=entries, n=numbered))
    return None
