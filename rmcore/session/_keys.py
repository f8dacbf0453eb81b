"""Session keys: 16 random bytes, shown as 32 hex digits; the store keeps only their hash.

The hash (``SessionHash``, :data:`~._fidelity.HIVE_HASH_ALGORITHM`) is what RmJoinSession's
key is checked against, so the store never holds a key an attacker could read and join with.
"""

from __future__ import annotations

import hashlib
import secrets

from . import _fidelity

__all__ = ["HASH_SIZE", "KEY_BYTES", "hash_key", "hash_of", "key_to_bytes", "new_key"]

KEY_BYTES = 16
_digest = getattr(hashlib, _fidelity.HIVE_HASH_ALGORITHM)  # e.g. hashlib.sha256
HASH_SIZE: int = _digest().digest_size
_HEX = frozenset("0123456789abcdefABCDEF")


def key_to_bytes(key: str) -> bytes | None:
    """The 16 bytes a session key text encodes, or ``None`` if it is not a well-formed key."""
    if len(key) != 2 * KEY_BYTES or not _HEX.issuperset(key):
        return None
    if _fidelity.JOIN_KEY_CASE_SENSITIVE and key != key.lower():
        return None
    return bytes.fromhex(key)


def new_key() -> tuple[bytes, int]:
    """A fresh key and a fresh 64-bit generation (which tags the session's log records),
    from one call to the CSPRNG."""
    raw = bytearray(secrets.token_bytes(KEY_BYTES + 8))
    if _fidelity.KEY_IS_GUID_BYTES:  # GUID v4 in memory order: Data3 is little-endian
        raw[7] = (raw[7] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
    return bytes(raw[:KEY_BYTES]), int.from_bytes(raw[KEY_BYTES:], "little")


def hash_key(key_bytes: bytes) -> bytes:
    """``SessionHash``: the digest of the key's 16 bytes."""
    return hash_of(key_bytes)


def hash_of(data: bytes) -> bytes:
    """The placeholder digest of the hive's ``...Hash`` values."""
    digest: bytes = _digest(data).digest()
    return digest
