"""AES envelopes built by hand, byte by byte, so a test can wrap ANY bytes (invalid UTF-8,
lone surrogates, a wrong appid) and break any layer (padding, declared length, base64)."""

from __future__ import annotations

import base64
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def aes_key(encoding_aes_key: str) -> bytes:
    return base64.b64decode(encoding_aes_key + "=")


def seal(key: bytes, plain: bytes) -> bytes:
    """AES-256-CBC with WeChat's IV (the key's first 16 bytes), no padding added here."""
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return encryptor.update(plain) + encryptor.finalize()


def pkcs7(data: bytes, block: int = 32) -> bytes:
    """WeChat pads to 32 bytes, not AES's 16."""
    amount = block - len(data) % block
    return data + bytes([amount]) * amount


def envelope(key: bytes, xml: bytes, receive_id: bytes, *, declared: int | None = None,
             padding: bytes | None = None, prefix: bytes | None = None) -> str:
    """The base64 text of <Encrypt>: random(16) + length + xml + receive_id, padded, sealed.

    `declared` lies about the length, `padding` replaces the PKCS#7 padding (it must keep the
    total a multiple of 16), `prefix` replaces the 16 random bytes."""
    body = (prefix if prefix is not None else os.urandom(16))
    body += struct.pack(">I", len(xml) if declared is None else declared) + xml + receive_id
    body = pkcs7(body) if padding is None else body + padding
    return base64.b64encode(seal(key, body)).decode()
