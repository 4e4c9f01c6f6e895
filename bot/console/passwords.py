"""Password hashing for console accounts: argon2id (argon2-cffi), the modern memory-hard KDF.

Kept in one place so the CLI and the console hash the same way, and so a stronger parameter set
later only means `needs_rehash` returning True at the next login.
"""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 10
MAX_LENGTH = 256  # argon2 takes any length; a cap keeps a megabyte "password" from costing CPU

# argon2id at OWASP's recommended minimum (m=19 MiB, t=2, p=1) rather than argon2-cffi's default
# (64 MiB, p=4): the office server has two cores shared with the bot, and p=4 there made one
# login cost over a second under load. Raising these later rehashes each account at its next
# login (needs_rehash).
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified against when the account does not exist, so an unknown name costs the same time as
# a wrong password and response times do not tell which names exist.
_DUMMY = _hasher.hash("qingfeng-no-such-account")


class WeakPassword(ValueError):
    """The password breaks the policy; the message is Chinese, for the person choosing it."""


def check_policy(password: str) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"密码至少 {MIN_LENGTH} 个字符")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"密码最多 {MAX_LENGTH} 个字符")
    if password.strip() != password:
        raise WeakPassword("密码首尾不能是空格")


def hash_password(password: str) -> str:
    check_policy(password)
    return _hasher.hash(password)


def rehash(password: str) -> str:
    """A fresh hash of a password that already verified (no policy check: it is not new)."""
    return _hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """True when `password` matches; an unknown account (None) is checked against a dummy."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DUMMY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
