"""Logon credentials: salted scrypt hashes, and where a session's hash comes from."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest

from gateway.credentials import (
    CredentialsError,
    LogonCredentials,
    credentials_from,
    hash_password,
    verify_password,
)


def test_a_hash_verifies_its_password_only_and_is_salted() -> None:
    first, second = hash_password("pw one"), hash_password("pw one")
    assert first != second  # a fresh salt each time
    assert verify_password("pw one", first) and verify_password("pw one", second)
    assert not verify_password("pw two", first)
    with pytest.raises(CredentialsError):
        verify_password("pw one", "plain text")


def test_credentials_come_from_the_setting_a_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = hash_password("pw")
    assert credentials_from({}, "s") is None
    assert credentials_from({"Username": "u", "PasswordHash": hashed}, "s") == LogonCredentials("u", hashed)
    path = tmp_path / "h"
    path.write_text(hashed + "\n")
    expected = LogonCredentials("u", hashed)
    assert credentials_from({"Username": "u", "PasswordHashFile": str(path)}, "s") == expected
    monkeypatch.setenv("CLIENT_HASH", hashed)
    assert credentials_from({"Username": "u", "PasswordHashEnv": "CLIENT_HASH"}, "s") == expected


@pytest.mark.parametrize("settings, error", [
    ({"Username": "u"}, "exactly one of"),
    ({"PasswordHash": "x"}, "PasswordHash without Username"),
    ({"Username": "u", "PasswordHash": "secret"}, "does not hold a hash"),  # a plain password is refused
    ({"Username": "u", "PasswordHashEnv": "FIXGATE_NO_SUCH_VARIABLE"}, "is not set"),
    ({"Username": "u", "PasswordHashFile": "/nonexistent/h"}, "PasswordHashFile"),
])
def test_incomplete_or_plain_settings_are_refused_naming_the_session(
    settings: dict[str, str], error: str
) -> None:
    with pytest.raises(CredentialsError, match=error) as refused:
        credentials_from(settings, "FIX.4.4:FIXGATE->CLIENT1")
    assert str(refused.value).startswith("FIX.4.4:FIXGATE->CLIENT1: ")


def test_a_logon_is_refused_without_saying_which_of_username_and_password_was_wrong() -> None:
    credentials = LogonCredentials("alice", hash_password("pw"))
    assert credentials.refusal("alice", "pw") is None
    assert credentials.refusal("alice", "nope") == credentials.refusal("bob", "pw")
    assert credentials.refusal(None, "pw") == "Username (553) and Password (554) are required"


@pytest.mark.parametrize("mode", [0o666, 0o620, 0o602], ids=oct)
def test_a_hash_file_others_may_write_is_refused(tmp_path: Path, mode: int) -> None:
    # Whoever can write the hash can log on as the session: the same rule as the API tokens file.
    path = tmp_path / "h"
    path.write_text(hash_password("pw"))
    path.chmod(0o600)
    assert credentials_from({"Username": "u", "PasswordHashFile": str(path)}, "s") is not None
    path.chmod(mode)
    with pytest.raises(CredentialsError, match=f"s: PasswordHashFile {path} is writable by others"):
        credentials_from({"Username": "u", "PasswordHashFile": str(path)}, "s")


def test_a_wrong_username_costs_the_same_scrypt_as_a_wrong_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # How long a refusal takes must not tell whether the Username was right: scrypt runs either way.
    credentials = LogonCredentials("alice", hash_password("pw"))
    runs: list[int] = []
    scrypt = hashlib.scrypt

    def counted(password: bytes, **kwargs: Any) -> bytes:
        runs.append(1)
        return scrypt(password, **kwargs)

    monkeypatch.setattr(hashlib, "scrypt", counted)
    for username, password in [("bob", "pw"), ("alice", "nope"), ("bob", "nope"), ("alice", "pw")]:
        runs.clear()
        credentials.refusal(username, password)
        assert len(runs) == 1, (username, password)


GOOD = hash_password("pw")
_, N, R, P, SALT, KEY = GOOD.split("$")


@pytest.mark.parametrize("encoded", [
    f"scrypt$x${R}${P}${SALT}${KEY}",  # not a number
    f"scrypt$1000${R}${P}${SALT}${KEY}",  # N not a power of two
    f"scrypt${2**24}${R}${P}${SALT}${KEY}",  # far more memory than scrypt may take
    f"scrypt${N}$0${P}${SALT}${KEY}",
    f"scrypt${2**70}${R}${P}${SALT}${KEY}",  # hashlib: TypeError, not ValueError
    f"scrypt${N}$-1${P}${SALT}${KEY}",
    f"scrypt${N}${R}${P}$!!!!${KEY}",  # not base64
    f"scrypt${N}${R}${P}${SALT}$",  # no key: would match any password
    f"bcrypt${N}${R}${P}${SALT}${KEY}",
])
def test_a_malformed_hash_is_refused_when_the_settings_load_not_at_the_first_logon(encoded: str) -> None:
    with pytest.raises(CredentialsError, match="s: PasswordHash does not hold a hash made by"):
        credentials_from({"Username": "u", "PasswordHash": encoded}, "s")
