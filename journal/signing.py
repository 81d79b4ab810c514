"""Signature schemes, by name, so another algorithm (GOST R 34.10-2012) can be added
without changing the record format: every key records its `algorithm`.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from typing import Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


class Verifier(Protocol):
    def verify(self, signature: bytes, data: bytes) -> bool: ...


class Signer(Protocol):
    algorithm: str
    public_key: bytes

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class _Ed25519Verifier:
    key: Ed25519PublicKey

    def verify(self, signature: bytes, data: bytes) -> bool:
        try:
            self.key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


class Ed25519Signer:
    algorithm = "ed25519"

    def __init__(self, private: Ed25519PrivateKey):
        self._private = private
        self.public_key = private.public_key().public_bytes_raw()

    @classmethod
    def generate(cls) -> "Ed25519Signer":
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, raw: bytes) -> "Ed25519Signer":
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    def private_bytes(self) -> bytes:
        return self._private.private_bytes_raw()

    def sign(self, data: bytes) -> bytes:
        return self._private.sign(data)


class UnknownAlgorithm(ValueError):
    pass


def verifier(algorithm: str, public_key: bytes) -> Verifier:
    if algorithm == "ed25519":
        if len(public_key) != 32:
            raise ValueError("an ed25519 public key is 32 bytes")
        return _Ed25519Verifier(Ed25519PublicKey.from_public_bytes(public_key))
    raise UnknownAlgorithm(f"unknown signature algorithm {algorithm!r}")


def signer_from_private(algorithm: str, raw: bytes) -> Signer:
    if algorithm == "ed25519":
        return Ed25519Signer.from_private_bytes(raw)
    raise UnknownAlgorithm(f"unknown signature algorithm {algorithm!r}")


def generate(algorithm: str = "ed25519") -> Ed25519Signer:
    if algorithm == "ed25519":
        return Ed25519Signer.generate()
    raise UnknownAlgorithm(f"unknown signature algorithm {algorithm!r}")


def key_id(algorithm: str, public_key: bytes) -> str:
    """16 hex digits of SHA-256 over the algorithm and the public key."""
    return hashlib.sha256(algorithm.encode() + b":" + public_key).hexdigest()[:16]


def fingerprint(algorithm: str, public_key: bytes) -> str:
    """SHA-256 of the public key, as people compare it: 'SHA256:ab12 cd34 …' (16 groups)."""
    digest = hashlib.sha256(algorithm.encode() + b":" + public_key).hexdigest()
    return "SHA256:" + " ".join(digest[i:i + 4] for i in range(0, 64, 4))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
