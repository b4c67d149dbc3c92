"""Password hashing (Argon2 through pwdlib), the password policy, the one normal form of an email, and
opaque bearer tokens stored as digests."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from functools import cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from pydantic import EmailStr, TypeAdapter, ValidationError
from zxcvbn.frequency_lists import FREQUENCY_LISTS

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


def new_token(prefix: str, user_id: int | None = None) -> str:
    """A random bearer token; the prefix tells a user token from a device upload token at a glance.

    Given the user, the token names it (`cu_42.<random>`), so its lookup is keyed by user like every other
    read: one shard of a schema distributed by user instead of all. The name is not trusted: a token is found
    only where its digest and its user both match.
    """
    body = secrets.token_urlsafe(32)  # its alphabet has no "."
    return f"{prefix}{user_id}.{body}" if user_id is not None else prefix + body


def token_user(token: str, prefix: str) -> int | None:
    """The user a token names, None for a token without one (issued before tokens named their user)."""
    named, dot, _ = token.removeprefix(prefix).partition(".")
    if not dot or not named.isascii() or not named.isdigit() or len(named) > 10:
        return None
    user_id = int(named)
    return user_id if user_id <= 2**31 - 1 else None  # an id the database's integer column can hold


def token_digest(token: str) -> str:
    """Tokens are high-entropy, so a plain SHA-256 digest is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


# NIST SP 800-63B §5.1.1.2: a minimum length and a check against passwords known to be common, no
# composition rules. The list is zxcvbn's (dropbox/zxcvbn's 30,000 most common leaked passwords).
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@cache
def _common_passwords() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def password_problem(password: str) -> str | None:
    """Why the password is refused, or None: too short, or (ignoring case and spaces) a common password."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"the password must have at least {MIN_PASSWORD_LENGTH} characters"
    folded = "".join(password.casefold().split())
    if folded in _common_passwords() or len(set(folded)) < 3:
        return "this password is too common; choose another"
    return None


_email = TypeAdapter(EmailStr)


def normalise_email(raw: str) -> str:
    """The stored form of an email: email-validator's normal form (local part NFC, domain IDNA-normalised),
    lower-cased. Sign-up and log-in both use it, so a log-in typed in another Unicode form still matches;
    what is not an email at all is folded alike and so matches no account."""
    text = raw.strip()
    try:
        text = _email.validate_python(text)
    except ValidationError:
        text = unicodedata.normalize("NFC", text)
    return text.lower()
