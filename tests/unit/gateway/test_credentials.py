"""Logon credentials: salted scrypt hashes, and where a session's hash comes from."""

from __future__ import annotations

from pathlib import Path

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
