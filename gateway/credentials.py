"""Logon credentials of client sessions: Username (553) and Password (554) checked against a salted
scrypt hash, so no secret is ever stored in the clear (``fixgate hash-password`` makes the hash).

Also the rule for every file that grants access (a session's ``PasswordHashFile``, the REST API's
tokens file): refused if others may write it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

# scrypt's interactive-logon cost (about 16 MB and tens of ms here): paid once per Logon, never
# on the order path.
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32


class CredentialsError(ValueError):
    """A session's credential settings are incomplete or unreadable, or a hash is malformed."""


class AccessFileError(ValueError):
    """A file that grants access is unreadable, not text, or others may write it."""


def read_access_file(path: str | Path, what: str) -> str:
    """The text of a file that grants access (``what``: how messages name it). Refused if its group or
    others may write it: whoever can change it can let themselves in."""
    try:
        mode = Path(path).stat().st_mode
        if mode & 0o022:
            raise AccessFileError(f"{what} {path} is writable by others (mode {mode & 0o777:o}):"
                                  f" chmod go-w {path}")
        return Path(path).read_text()
    except OSError as exc:
        raise AccessFileError(f"{what} {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise AccessFileError(f"{what} {path} is not UTF-8 text") from None


def hash_password(password: str) -> str:
    """``scrypt$N$r$p$salt$key`` (salt and key in base64) of ``password`` with a fresh random salt."""
    if not password:
        raise CredentialsError("an empty password cannot be hashed")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    return f"scrypt${_N}${_R}${_P}${_b64(salt)}${_b64(key)}"


def verify_password(password: str, encoded: str) -> bool:
    """Whether ``password`` hashes to ``encoded`` (compared in constant time)."""
    try:
        scheme, n, r, p, salt, key = encoded.split("$")
        if scheme != "scrypt":
            raise ValueError(f"scheme {scheme[:20]!r}")
        expected = base64.b64decode(key, validate=True)
        if len(expected) < 16:  # an empty key would match every password
            raise ValueError(f"a key of {len(expected)} bytes")
        # hashlib refuses an N that is not a power of two, and more than its memory bound.
        actual = hashlib.scrypt(
            password.encode(errors="surrogateescape"), salt=base64.b64decode(salt, validate=True),
            n=int(n), r=int(r), p=int(p), dklen=len(expected),
        )
    except (ValueError, TypeError, OverflowError) as exc:  # hashlib: TypeError for an N, r or p out of range
        raise CredentialsError(f"not a password hash made by `fixgate hash-password`: {exc}") from None
    return hmac.compare_digest(actual, expected)


def check_hash(encoded: str) -> None:
    """``CredentialsError`` unless ``encoded`` is a hash ``verify_password`` can use: found when the
    settings load, not at a client's first Logon. Checked by using it once (tens of ms, at start)."""
    verify_password("", encoded)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@dataclass(frozen=True, slots=True)
class LogonCredentials:
    """The Username a session must log on with and the hash of its Password."""

    username: str
    password_hash: str

    def refusal(self, username: str | None, password: str | None) -> str | None:
        """``None`` if the Logon's Username and Password match, else the Text of the refusal (which
        never says which of the two was wrong)."""
        if username is None or password is None:
            return "Username (553) and Password (554) are required"
        # Both compared, always: a wrong Username must take as long (one scrypt) as a wrong Password.
        right_username = hmac.compare_digest(username.encode(errors="surrogateescape"), self.username.encode())
        right_password = verify_password(password, self.password_hash)
        if not (right_username and right_password):
            return "wrong Username (553) or Password (554)"
        return None


def credentials_from(settings: dict[str, str], where: str) -> LogonCredentials | None:
    """A session's credentials from its settings: ``Username`` and the hash from ``PasswordHash``,
    the file named by ``PasswordHashFile`` or the environment variable named by ``PasswordHashEnv``.
    ``None`` when the session has no ``Username``; ``CredentialsError`` naming ``where`` when the
    settings are incomplete or the hash cannot be read."""
    username = settings.get("Username")
    sources = [k for k in ("PasswordHash", "PasswordHashFile", "PasswordHashEnv") if k in settings]
    if username is None:
        if sources:
            raise CredentialsError(f"{where}: {sources[0]} without Username")
        return None
    if len(sources) != 1:
        raise CredentialsError(f"{where}: Username needs exactly one of PasswordHash, PasswordHashFile, "
                               "PasswordHashEnv")
    source = sources[0]
    if source == "PasswordHash":
        encoded = settings[source]
    elif source == "PasswordHashFile":
        try:
            encoded = read_access_file(settings[source], source).strip()
        except AccessFileError as exc:
            raise CredentialsError(f"{where}: {exc}") from None
    else:
        found = os.environ.get(settings[source])
        if not found:
            raise CredentialsError(f"{where}: PasswordHashEnv: ${settings[source]} is not set")
        encoded = found.strip()
    try:
        check_hash(encoded)
    except CredentialsError:
        raise CredentialsError(f"{where}: {source} does not hold a hash made by `fixgate hash-password`"
                               ) from None
    return LogonCredentials(username, encoded)
