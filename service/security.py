"""Password hashing (Argon2 through pwdlib) and opaque bearer tokens stored as digests."""

from __future__ import annotations

import hashlib
import secrets

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

# Argon2id with pwdlib's recommended parameters; one instance, it is stateless.
_password_hash = PasswordHash((Argon2Hasher(),))
# A valid hash to verify against when the email is unknown, so timing does not reveal accounts.
_DUMMY_HASH = _password_hash.hash("chinup-timing-equaliser")

USER_TOKEN_PREFIX = "cu_"
DEVICE_TOKEN_PREFIX = "cud_"


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """Constant work whether or not the account exists."""
    if password_hash is None:
        _password_hash.verify(password, _DUMMY_HASH)
        return False
    return _password_hash.verify(password, password_hash)


def new_token(prefix: str) -> str:
    """A random bearer token; the prefix tells a user token from a device upload token at a glance."""
    return prefix + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """Tokens are high-entropy, so a plain SHA-256 digest is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()
