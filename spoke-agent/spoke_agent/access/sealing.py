"""Sealed boxes between agents: the target agent seals the credentials it grants to the
source agent's public key, so the hub, which relays and stores them, only ever holds
ciphertext it cannot open.

X25519 with a fresh ephemeral key per box, HKDF-SHA256 over both public keys, and
ChaCha20-Poly1305 with the migration id as associated data: a box opens only with the
recipient's private key and only for the migration it was sealed for, so the hub cannot
replay one migration's grant into another.
"""

import base64
import binascii
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES = 32
NONCE_BYTES = 12
INFO = b"cclm target access v1"


class SealingError(ValueError):
    """A box that does not open: sealed to another key or migration, or tampered with."""


def _raw(key: X25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key(encoded: str) -> X25519PublicKey:
    """A public key as agents publish it: 32 bytes, URL-safe base64."""
    try:
        raw = base64.b64decode(encoded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as error:
        raise SealingError("the public key is not URL-safe base64") from error
    if len(raw) != KEY_BYTES:
        raise SealingError(f"the public key must be {KEY_BYTES} bytes, not {len(raw)}")
    return X25519PublicKey.from_public_bytes(raw)


def _box_key(shared: bytes, ephemeral: bytes, recipient: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=ephemeral + recipient, info=INFO)
    return hkdf.derive(shared)


def seal(recipient: str, context: str, plaintext: bytes) -> str:
    """`plaintext` for the holder of `recipient`'s private key, bound to `context`."""
    to = public_key(recipient)
    ephemeral = X25519PrivateKey.generate()
    sender = _raw(ephemeral.public_key())
    key = _box_key(ephemeral.exchange(to), sender, _raw(to))
    nonce = secrets.token_bytes(NONCE_BYTES)
    sealed = ChaCha20Poly1305(key).encrypt(nonce, plaintext, context.encode())
    return base64.urlsafe_b64encode(sender + nonce + sealed).decode("ascii")


@dataclass(frozen=True, slots=True)
class KeyPair:
    """This agent's sealing key. The private half stays in its state directory (mode 0600)
    and is never sent anywhere; the public half is registered with the hub."""

    private: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls) -> "KeyPair":
        return cls(X25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> "KeyPair":
        if path.exists():
            raw = path.read_bytes()
            if len(raw) != KEY_BYTES:
                raise SealingError(f"{path}: not a sealing key ({len(raw)} bytes)")
            return cls(X25519PrivateKey.from_private_bytes(raw))
        pair = cls.generate()
        raw = pair.private.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        partial = path.with_name(f".{path.name}.new")
        partial.unlink(missing_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(partial, path)
        return pair

    @property
    def public(self) -> str:
        return base64.urlsafe_b64encode(_raw(self.private.public_key())).decode("ascii")

    def open(self, sealed: str, context: str) -> bytes:
        try:
            raw = base64.b64decode(sealed.encode("ascii"), altchars=b"-_", validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError) as error:
            raise SealingError("the sealed box is not URL-safe base64") from error
        if len(raw) < KEY_BYTES + NONCE_BYTES + 16:
            raise SealingError("the sealed box is too short")
        sender, nonce = raw[:KEY_BYTES], raw[KEY_BYTES : KEY_BYTES + NONCE_BYTES]
        body = raw[KEY_BYTES + NONCE_BYTES :]
        try:
            shared = self.private.exchange(X25519PublicKey.from_public_bytes(sender))
        except ValueError as error:
            raise SealingError("the sealed box carries no usable sender key") from error
        key = _box_key(shared, sender, _raw(self.private.public_key()))
        try:
            return ChaCha20Poly1305(key).decrypt(nonce, body, context.encode())
        except InvalidTag as error:
            raise SealingError(
                "the sealed box does not open with this agent's key for this migration"
            ) from error
