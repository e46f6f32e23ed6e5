"""Sealed boxes: only the recipient's key opens one, only for the migration it was sealed
for, and nothing tampered with opens at all."""

import base64
import stat
from pathlib import Path

import pytest
from spoke_agent.access.sealing import KeyPair, SealingError, public_key, seal


def test_a_box_opens_with_the_recipients_key_for_its_migration() -> None:
    keys = KeyPair.generate()
    sealed = seal(keys.public, "mig-1", b"token-and-ca")
    assert b"token-and-ca" not in base64.urlsafe_b64decode(sealed)
    assert keys.open(sealed, "mig-1") == b"token-and-ca"


def test_two_boxes_of_the_same_secret_differ() -> None:
    keys = KeyPair.generate()
    assert seal(keys.public, "mig-1", b"x") != seal(keys.public, "mig-1", b"x")


def test_another_key_does_not_open_a_box() -> None:
    sealed = seal(KeyPair.generate().public, "mig-1", b"secret")
    with pytest.raises(SealingError, match="does not open"):
        KeyPair.generate().open(sealed, "mig-1")


def test_a_box_does_not_open_for_another_migration() -> None:
    keys = KeyPair.generate()
    sealed = seal(keys.public, "mig-1", b"secret")
    with pytest.raises(SealingError, match="for this migration"):
        keys.open(sealed, "mig-2")


@pytest.mark.parametrize("position", [0, 40, -1])
def test_a_tampered_box_does_not_open(position: int) -> None:
    keys = KeyPair.generate()
    raw = bytearray(base64.urlsafe_b64decode(seal(keys.public, "mig-1", b"secret")))
    raw[position] ^= 1
    with pytest.raises(SealingError):
        keys.open(base64.urlsafe_b64encode(bytes(raw)).decode(), "mig-1")


@pytest.mark.parametrize("sealed", ["not base64!", "", base64.urlsafe_b64encode(b"short").decode()])
def test_garbage_is_refused_with_a_reason(sealed: str) -> None:
    with pytest.raises(SealingError):
        KeyPair.generate().open(sealed, "mig-1")


def test_the_key_file_is_private_and_reloads_as_the_same_key(tmp_path: Path) -> None:
    path = tmp_path / "sealing.key"
    first = KeyPair.load_or_create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = KeyPair.load_or_create(path)
    assert again.public == first.public
    assert again.open(seal(first.public, "m", b"kept"), "m") == b"kept"
    assert repr(first) == "KeyPair()", "the private key stays out of reprs and logs"


def test_a_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "sealing.key"
    path.write_bytes(b"too short")
    with pytest.raises(SealingError, match="not a sealing key"):
        KeyPair.load_or_create(path)


@pytest.mark.parametrize("key", ["%%%", base64.urlsafe_b64encode(b"x" * 31).decode()])
def test_a_malformed_public_key_is_refused(key: str) -> None:
    with pytest.raises(SealingError):
        public_key(key)


def test_a_box_with_a_degenerate_sender_key_is_refused_as_a_box() -> None:
    forged = base64.urlsafe_b64encode(bytes(32) + bytes(12) + bytes(32)).decode()
    with pytest.raises(SealingError, match="no usable sender key"):
        KeyPair.generate().open(forged, "mig-1")


def test_a_key_file_half_written_by_a_crash_does_not_block_the_start(tmp_path: Path) -> None:
    (tmp_path / ".sealing.key.new").write_bytes(b"")
    pair = KeyPair.load_or_create(tmp_path / "sealing.key")
    assert KeyPair.load_or_create(tmp_path / "sealing.key").public == pair.public
    assert not (tmp_path / ".sealing.key.new").exists()
