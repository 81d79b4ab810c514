"""Private key files: one JSON file per key under `<data dir>/keys/`, mode 0600.

A person's key is encrypted: scrypt (n=2^15, r=8, p=1) derives a 256-bit key from the
passphrase and AES-256-GCM seals the raw private key, so a wrong passphrase is
detected, never mistaken for a key. The station's key, like an SSH host key, may be
stored without a passphrase; the file is then readable only by its owner.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from journal import signing
from ppe_tech.errors import BadInput, EnvironmentFailure
from ppe_tech.messages import _
from ppe_tech.paths import ensure_private_dir
from ppe_tech.winacl import make_private

FORMAT = "ppe-tech-private-key/1"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
MIN_PASSPHRASE = 8


@dataclass(frozen=True)
class KeyFile:
    key_id: str
    algorithm: str
    name: str
    position: str
    role: str
    encrypted: bool
    path: Path


def _kdf(salt: bytes, n: int, r: int, p: int) -> Scrypt:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p)


def write_private_key(directory: Path, signer: signing.Ed25519Signer, *, key_id: str, name: str, position: str,
                      role: str, passphrase: str | None, target: Path | None = None) -> Path:
    """Write the key file atomically with mode 0600; refuse to overwrite.

    It goes to `directory`/<key id>.key, or to `target` (a file on removable media: its folder must exist)."""
    if target is not None and target.is_dir():
        target = target / f"{key_id}.key"
    if target is None:
        ensure_private_dir(directory)
    elif not target.parent.is_dir():
        raise BadInput(_("folder {path} does not exist").format(path=target.parent))
    doc: dict = {"format": FORMAT, "key_id": key_id, "algorithm": signer.algorithm, "name": name,
                 "position": position, "role": role, "public_key": signing.b64(signer.public_key)}
    raw = signer.private_bytes()
    if passphrase is None:
        doc["protection"] = {"kind": "none"}
        doc["private_key"] = signing.b64(raw)
    else:
        salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
        secret = _kdf(salt, SCRYPT_N, SCRYPT_R, SCRYPT_P).derive(passphrase.encode("utf-8"))
        sealed = AESGCM(secret).encrypt(nonce, raw, key_id.encode("ascii"))
        doc["protection"] = {"kind": "scrypt-aes256gcm", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P,
                             "salt": signing.b64(salt), "nonce": signing.b64(nonce)}
        doc["private_key"] = signing.b64(sealed)
    path = target if target is not None else directory / f"{key_id}.key"
    if path.is_symlink() or path.exists():
        raise BadInput(_("key file {path} already exists").format(path=path))
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    make_private(tmp)  # Windows: an ACL of the current user alone, before the key is written
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(doc, handle, ensure_ascii=False, indent=2)
        handle.flush()
        os.fsync(handle.fileno())
    if path.exists():
        tmp.unlink()
        raise BadInput(_("key file {path} already exists").format(path=path))
    os.replace(tmp, path)
    return path


def _read(path: Path) -> dict:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadInput(_("{path} is not a ppe-tech key file").format(path=path)) from None
    except OSError as exc:
        raise EnvironmentFailure(_("cannot read key file {path}: {error}").format(path=path, error=exc.strerror)) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise BadInput(_("{path} is not a ppe-tech key file").format(path=path))
    return doc


def _key_file(doc: dict, path: Path) -> KeyFile:
    return KeyFile(doc["key_id"], doc["algorithm"], doc.get("name", ""), doc.get("position", ""),
                   doc.get("role", "person"), doc["protection"]["kind"] != "none", path)


def read_key_file(path: Path) -> KeyFile:
    """The private key file at `path` (`--key-file`, e.g. on a USB stick): missing or foreign is bad input."""
    if not path.is_file():
        raise BadInput(_("key file {path} does not exist or is not a file").format(path=path))
    doc = _read(path)
    try:
        return _key_file(doc, path)
    except (KeyError, TypeError):
        raise BadInput(_("key file {path} is damaged").format(path=path)) from None


def list_key_files(directory: Path) -> list[KeyFile]:
    out = []
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.key")):
        try:
            doc = _read(path)
        except (BadInput, EnvironmentFailure):
            continue
        out.append(_key_file(doc, path))
    return out


def find_key_file(directory: Path, key_ref: str) -> KeyFile:
    """The private key whose id is `key_ref` or starts with it."""
    ref = key_ref.strip().lower()
    if not ref:
        raise BadInput(_("--key needs a key id (see `ppe-tech keys list`)"))
    matches = [k for k in list_key_files(directory) if k.key_id.startswith(ref)]
    if not matches:
        raise BadInput(_("no private key {key} in {dir} (see `ppe-tech keys list`)").format(key=key_ref, dir=directory))
    if len(matches) > 1:
        raise BadInput(_("key id {key} is ambiguous: {ids}").format(key=key_ref, ids=", ".join(k.key_id for k in matches)))
    return matches[0]


def needs_passphrase(key: KeyFile) -> bool:
    return key.encrypted


def load_signer(key: KeyFile, passphrase: str | None) -> signing.Signer:
    doc = _read(key.path)
    protection = doc.get("protection", {})
    try:
        sealed = signing.unb64(doc["private_key"])
        if protection.get("kind") == "none":
            raw = sealed
        elif protection.get("kind") == "scrypt-aes256gcm":
            if passphrase is None:
                raise BadInput(_("key {key} is protected by a passphrase").format(key=key.key_id))
            secret = _kdf(signing.unb64(protection["salt"]), int(protection["n"]), int(protection["r"]),
                          int(protection["p"])).derive(passphrase.encode("utf-8"))
            try:
                raw = AESGCM(secret).decrypt(signing.unb64(protection["nonce"]), sealed, key.key_id.encode("ascii"))
            except InvalidTag:
                raise BadInput(_("wrong passphrase for key {key} ({name})").format(key=key.key_id, name=key.name)) from None
        else:
            raise BadInput(_("key file {path} uses an unknown protection").format(path=key.path))
        signer = signing.signer_from_private(doc["algorithm"], raw)
    except (KeyError, ValueError, TypeError):
        raise BadInput(_("key file {path} is damaged").format(path=key.path)) from None
    if signing.b64(signer.public_key) != doc["public_key"]:
        raise BadInput(_("key file {path} is damaged: its private and public parts differ").format(path=key.path))
    return signer
