"""Password hashing (argon2id, memory-hard) and the minimum strength rule."""

from __future__ import annotations

import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
_hasher = PasswordHasher()
# A hash that no password matches: verifying against it costs the same time as a real check,
# so that "unknown user" and "wrong password" cannot be told apart by timing.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class WeakPasswordError(ValueError):
    """The password does not meet the minimum strength; the message says why."""


def check_strength(password: str, *, email: str | None = None) -> None:
    if len(password) < MIN_LENGTH:
        raise WeakPasswordError(f"must be at least {MIN_LENGTH} characters long")
    if len(set(password)) < 5:
        raise WeakPasswordError("must use at least 5 different characters")
    if email and email.split("@")[0].lower() in password.lower() and len(email.split("@")[0]) > 3:
        raise WeakPasswordError("must not contain your e-mail name")
    classes = sum(
        [any(c.islower() for c in password), any(c.isupper() for c in password),
         any(c.isdigit() for c in password), any(not c.isalnum() for c in password)]
    )  # fmt: skip
    if classes < 2 and len(password) < 16:
        raise WeakPasswordError("must mix letters with digits or symbols (or be 16+ characters)")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def generate_password() -> str:
    return secrets.token_urlsafe(12)
