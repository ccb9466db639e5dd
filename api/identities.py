"""Who may call the REST API: named identities, each with a role and a hashed bearer token.

The tokens file (``--api-tokens-file``, ``FIXGATE_API_TOKENS_FILE``) has one identity per line::

    # name    role      sha256 of the token (hex)                                          accounts
    alice     operator  6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b
    risk-desk viewer    d4735e3a265e16eee03f59718b9b5d03019c07d8b6c51f64fa5b5d8b9b5a9b1c
    acme      client    4e07408562bedb8b60ce05c1decfe3ad16b72230967de01f640b7e4729b49fce CLIENT1,CLIENT2

Only the SHA-256 of a token is kept: a token is 256 random bits (``fixgate token add`` makes one),
so a plain hash is enough, and the file leaks nothing that lets anyone call the API.

Roles: ``operator`` may do everything; ``viewer`` may read everything and change nothing; ``client``
may read only the orders, executions, positions and P&L of its accounts and cancel only their orders.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from gateway.credentials import AccessFileError, read_access_file


class IdentityError(ValueError):
    """A tokens file or identity is malformed: the message names the file, the line and the field."""


class Role(StrEnum):
    """What an identity may do."""

    OPERATOR = "operator"  # everything: reads, cancels, kill switch, limits
    VIEWER = "viewer"  # every read, no change
    CLIENT = "client"  # its accounts' orders, executions, positions and P&L; cancels of its orders


@dataclass(frozen=True, slots=True)
class Identity:
    """A caller of the API, as authenticated by its token; ``name`` is what the audit trail records."""

    name: str
    role: Role
    accounts: frozenset[str] = frozenset()  # a client's accounts; empty for the other roles

    def may_see(self, account: str) -> bool:
        """Whether this identity may read (and, if it may act, act on) ``account``'s orders and positions."""
        return self.role is not Role.CLIENT or account in self.accounts

    @property
    def account_scope(self) -> frozenset[str] | None:
        """The accounts a query must be limited to; ``None``: every account."""
        return self.accounts if self.role is Role.CLIENT else None


#: The identity of the single token of FIXGATE_API_TOKEN / --api-token-file (an operator).
LEGACY_TOKEN_NAME = "api"

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
_ACCOUNT = re.compile(r"[!-~]{1,64}")  # printable ASCII without space, as FIX Account (1) values are
_HEX = re.compile(r"[0-9a-f]{64}")


def hash_token(token: str) -> str:
    """The SHA-256 of a token, as the tokens file keeps it (lower-case hex)."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A new random token: 256 bits, URL-safe (it goes in an ``Authorization`` header)."""
    return secrets.token_urlsafe(32)


def identity_line(identity: Identity, token_hash: str) -> str:
    """The tokens file line of ``identity`` (accounts comma-separated)."""
    fields = [identity.name, identity.role.value, token_hash]
    if identity.accounts:
        fields.append(",".join(sorted(identity.accounts)))
    return " ".join(fields)


def make_identity(name: str, role: str, accounts: Iterable[str] = (), where: str = "identity") -> Identity:
    """A validated identity: a name of letters, digits and ``._@-``; a known role; a client has accounts."""
    if not _NAME.fullmatch(name):
        raise IdentityError(f"{where}: name {name!r} must be 1-64 letters, digits or ._@- (starting with"
                            " a letter or digit)")
    try:
        known = Role(role)
    except ValueError:
        known_roles = ", ".join(r.value for r in Role)
        raise IdentityError(f"{where}: role {role!r} must be one of {known_roles}") from None
    names = frozenset(accounts)
    for account in names:
        if not _ACCOUNT.fullmatch(account):
            raise IdentityError(f"{where}: account {account!r} must be 1-64 printable ASCII characters")
    if known is Role.CLIENT and not names:
        raise IdentityError(f"{where}: a client identity needs its accounts (e.g. CLIENT1,CLIENT2)")
    if known is not Role.CLIENT and names:
        raise IdentityError(
            f"{where}: only a client identity names accounts ({known.value} sees every account)")
    return Identity(name, known, names)


def parse_tokens(text: str, source: str) -> dict[str, Identity]:
    """The identities of a tokens file's text, by token hash; ``#`` starts a comment."""
    by_hash: dict[str, Identity] = {}
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{source}:{number}"
        fields = line.split()
        if len(fields) < 3:
            raise IdentityError(f"{where}: expected 'name role sha256hex [accounts]', got {line!r}")
        name, role, digest, *rest = fields
        accounts = [a for field in rest for a in field.split(",") if a]
        identity = make_identity(name, role, accounts, where)
        if not _HEX.fullmatch(digest):
            raise IdentityError(
                f"{where}: {digest[:8]}... is not a SHA-256 in lower-case hex (64 characters)")
        if name in names:
            raise IdentityError(f"{where}: identity {name!r} is named twice")
        if digest in by_hash:
            raise IdentityError(f"{where}: {name!r} has the same token as {by_hash[digest].name!r}")
        names.add(name)
        by_hash[digest] = identity
    return by_hash


def load_tokens(path: str | Path) -> dict[str, Identity]:
    """The identities of the tokens file at ``path``, by token hash. A file others may write is
    refused: whoever can add a line can make themselves an operator."""
    try:
        text = read_access_file(path, "API tokens file")
    except AccessFileError as exc:
        raise IdentityError(str(exc)) from None
    return parse_tokens(text, f"API tokens file {path}")


class Identities:
    """Bearer token -> identity: the tokens file's identities and the legacy single operator token."""

    def __init__(
        self, by_hash: Mapping[str, Identity] | None = None, legacy_token: str | None = None
    ) -> None:
        self._by_hash = dict(by_hash or {})
        if legacy_token:
            digest = hash_token(legacy_token)
            if digest in self._by_hash:
                raise IdentityError(
                    f"the API token is also the token of {self._by_hash[digest].name!r} in the tokens file")
            if any(i.name == LEGACY_TOKEN_NAME for i in self._by_hash.values()):
                raise IdentityError(
                    f"the tokens file names an identity {LEGACY_TOKEN_NAME!r}: that is the name of the API"
                    " token's identity (FIXGATE_API_TOKEN); rename it")
            self._by_hash[digest] = Identity(LEGACY_TOKEN_NAME, Role.OPERATOR)

    def __bool__(self) -> bool:
        return bool(self._by_hash)

    def __len__(self) -> int:
        return len(self._by_hash)

    def find(self, token: str) -> Identity | None:
        """The identity whose token this is, or ``None``.

        A dict lookup by the token's hash: how long it takes says nothing about how close a guess was,
        since a guess one character off has an unrelated hash.
        """
        return self._by_hash.get(hash_token(token))
