"""Detached signatures of documents (archive manifests, integrity baselines).

A signature file is JSON: the key id, algorithm, public key and holder, and the
signature over the document's exact bytes. It verifies without ppe-tech's data dir;
with the journal at hand the key must also be registered in it.
"""

from __future__ import annotations

import errno
import json
import os
import stat
from dataclasses import dataclass
from pathlib import Path

FORMAT = "ppe-tech-signature/1"


def signature_doc(key_file, signer, data: bytes) -> bytes:
    from journal import signing

    doc = {"format": FORMAT, "key_id": key_file.key_id, "algorithm": signer.algorithm,
           "public_key": signing.b64(signer.public_key), "name": key_file.name, "position": key_file.position,
           "signature": signing.b64(signer.sign(data))}
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@dataclass
class Signer:
    """Who signed a document, and whether that holds: `state` is valid | invalid | missing | unknown key."""
    state: str
    key_id: str = ""
    name: str = ""
    position: str = ""
    fingerprint: str = ""

    def as_json(self) -> dict:
        return {"state": self.state, "key_id": self.key_id, "name": self.name, "position": self.position,
                "fingerprint": self.fingerprint}


def _read_signature(sig_path: Path, data: bytes) -> tuple[Signer, dict | None]:
    from journal import signing

    try:
        doc = json.loads(read_regular(Path(sig_path)).decode("utf-8"))
        public = signing.unb64(doc["public_key"])
        key_id, algorithm = doc["key_id"], doc["algorithm"]
        if not all(isinstance(v, str) for v in (key_id, algorithm, doc["signature"])):
            raise TypeError
        signer = Signer("invalid", key_id, str(doc.get("name", "")), str(doc.get("position", "")),
                        signing.fingerprint(algorithm, public))
        if signing.key_id(algorithm, public) != key_id:
            return signer, None
        if not signing.verifier(algorithm, public).verify(signing.unb64(doc["signature"]), data):
            return signer, None
    except FileNotFoundError:
        return Signer("missing"), None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError, UnicodeDecodeError):
        return Signer("invalid"), None
    signer.state = "valid"
    return signer, doc


def read_regular(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file; a link (even to a file) is refused with OSError."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise IsADirectoryError(errno.EISDIR, "not a regular file", str(path))
        return handle.read()


def trusted_key_ids(app, trust: Path | None) -> set[str]:
    """The keys a document may be signed by: those of the journal at hand, and those of the
    `keys export` bundle `trust` (each certificate checked)."""
    from journal.journal import read_public

    ids: set[str] = set()
    if trust is not None:
        from ppe_tech.app import read_input

        ids |= {info.key_id for info in read_public(read_input(trust, "--trust"), str(trust))}
    if app.has_journal():
        with app.open_journal(readonly=True) as journal:
            ids |= journal.registered_key_ids()
    return ids


def check_signer(app, sig_path: Path, data: bytes, trust: Path | None) -> Signer:
    """The signer of `data`, trusted only when its key is in the journal at hand or in `trust`:
    a document re-signed by a new key is 'unknown key', however valid the signature."""
    signer, _doc = _read_signature(sig_path, data)
    if signer.state == "valid" and signer.key_id not in trusted_key_ids(app, trust):
        signer.state = "unknown key"
    return signer


def check(app, sig_path: Path, data: bytes) -> str:
    """'valid' | 'invalid' | 'missing' | 'unknown key' for `data` against the signature file
    (a local document, such as the baseline: with the journal at hand its key must be there)."""
    signer, doc = _read_signature(sig_path, data)
    if signer.state != "valid":
        return signer.state
    if app.has_journal():
        with app.open_journal(readonly=True) as journal:
            if signer.key_id not in journal.registered_key_ids():
                return "unknown key"
    return "valid"
