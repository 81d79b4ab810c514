"""Detached signatures of documents (archive manifests, integrity baselines).

A signature file is JSON: the key id, algorithm, public key and holder, and the
signature over the document's exact bytes. It verifies without ppe-tech's data dir;
with the journal at hand the key must also be registered in it.
"""

from __future__ import annotations

import json
from pathlib import Path

FORMAT = "ppe-tech-signature/1"


def signature_doc(key_file, signer, data: bytes) -> bytes:
    from journal import signing

    doc = {"format": FORMAT, "key_id": key_file.key_id, "algorithm": signer.algorithm,
           "public_key": signing.b64(signer.public_key), "name": key_file.name, "position": key_file.position,
           "signature": signing.b64(signer.sign(data))}
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def check(app, sig_path: Path, data: bytes) -> str:
    """'valid' | 'invalid' | 'missing' | 'unknown key' for `data` against the signature file."""
    from journal import signing

    try:
        doc = json.loads(Path(sig_path).read_text(encoding="utf-8"))
        public = signing.unb64(doc["public_key"])
        if signing.key_id(doc["algorithm"], public) != doc["key_id"]:
            return "invalid"
        if not signing.verifier(doc["algorithm"], public).verify(signing.unb64(doc["signature"]), data):
            return "invalid"
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError, KeyError, TypeError):
        return "invalid"
    if app.has_journal():
        with app.open_journal(readonly=True) as journal:
            if doc["key_id"] not in journal.registered_key_ids():
                return "unknown key"
    return "valid"
