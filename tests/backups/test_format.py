"""The encrypted format on its own: frames come back as written, and any reordering,
cutting, swapping of key or flipped bit is refused before a byte of it is released."""

from __future__ import annotations

import base64
import io
import os

import pytest

from railsaas.platform import backups
from railsaas.platform.backups import CorruptBackup, Encryptor, WrongKey, decrypt, parse_keys

KEY = os.urandom(32)


def sealed(*frames: bytes) -> tuple[bytes, list[bytes]]:
    """The object's bytes and its frames (header first), the last frame empty and final."""
    enc = Encryptor(KEY)
    parts = [enc.header] + [enc.frame(f) for f in frames] + [enc.frame(b"", last=True)]
    return b"".join(parts), parts


def opened(data: bytes, keys=(KEY,)) -> list[bytes]:
    return list(decrypt(io.BytesIO(data).read, keys))


def test_frames_come_back_as_written():
    data, _ = sealed(b"manifest", b"a" * 1000, b"b")
    assert opened(data) == [b"manifest", b"a" * 1000, b"b"]


def test_any_of_several_keys_opens_it():
    data, _ = sealed(b"x")
    assert opened(data, keys=(os.urandom(32), KEY)) == [b"x"]


def test_a_wrong_key_names_both_ids():
    data, _ = sealed(b"x")
    other = os.urandom(32)
    with pytest.raises(WrongKey, match=backups.key_id(KEY)) as err:
        opened(data, keys=(other,))
    assert backups.key_id(other) in str(err.value)


@pytest.mark.parametrize(
    "damage", ["swap", "drop last", "drop middle", "flip", "append", "not ours", "empty"]
)
def test_damage_is_refused(damage):
    data, parts = sealed(b"one", b"two", b"three")
    if damage == "swap":
        data = b"".join([parts[0], parts[2], parts[1], *parts[3:]])
    elif damage == "drop last":
        data = b"".join(parts[:-1])
    elif damage == "drop middle":
        data = b"".join(parts[:2] + parts[3:])
    elif damage == "flip":
        data = bytearray(data)
        data[-25] ^= 0x80
        data = bytes(data)
    elif damage == "append":
        data += b"more"
    elif damage == "not ours":
        data = b"PGDMP" + data[5:]
    else:
        data = b""
    with pytest.raises(CorruptBackup):
        opened(data)


def test_keys_must_be_32_bytes_of_base64():
    good = os.urandom(32)
    assert parse_keys(base64.b64encode(good).decode()) == (good,)
    assert parse_keys(base64.urlsafe_b64encode(good).decode().rstrip("=")) == (good,)
    other = os.urandom(32)
    both = f"{base64.b64encode(good).decode()}, {base64.b64encode(other).decode()}"
    assert parse_keys(both) == (good, other)
    for bad in ("", "   ", "not base64 at all!", base64.b64encode(b"short").decode()):
        with pytest.raises(backups.BackupError, match="BACKUP_ENCRYPTION_KEY"):
            parse_keys(bad)
