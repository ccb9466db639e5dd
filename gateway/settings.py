"""QuickFIX session settings: the shipped ``.cfg`` templates, rendered with paths and ports at start."""

from __future__ import annotations

import string
import sys
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path

import quickfix as fix


class SessionConfigError(ValueError):
    """A session template names a variable nobody supplied or a setting fixgate refuses, or the spec
    folder is missing."""


#: QuickFIX's built-in HTTP admin page: it shows every session and can reset sequence numbers or
#: disconnect, with no authentication at all. fixgate never turns it on (QuickFIX reads keys in any case).
_REFUSED_KEYS = {"HTTPACCEPTPORT": "HttpAcceptPort opens QuickFIX's HTTP admin page, which has no"
                                   " authentication (anyone who reaches the port can reset or disconnect"
                                   " sessions): remove it; /sessions and /metrics of the REST API show the"
                                   " sessions behind its token"}


def spec_dir() -> Path:
    """Where pip installed QuickFIX's FIX data dictionaries (resolved at start, never hard-coded)."""
    path = Path(sys.prefix) / "share" / "quickfix"
    if not (path / "FIX44.xml").is_file():
        raise SessionConfigError(f"FIX data dictionaries not found in {path}: is quickfix installed here?")
    return path


def check_template(template: Path) -> None:
    """Refuse a session template that turns on a setting fixgate never allows (``HttpAcceptPort``):
    a ``SessionConfigError`` naming the file, the line and why. ``render`` checks too; fixgate's start
    calls this first, before anything is started."""
    for number, line in enumerate(template.read_text().splitlines(), 1):
        if line.lstrip().startswith("#") or "=" not in line:
            continue
        refused = _REFUSED_KEYS.get(line.partition("=")[0].strip().upper())
        if refused is not None:
            raise SessionConfigError(f"{template}:{number}: {refused}")


def render(template: Path, out_dir: Path, variables: Mapping[str, object]) -> fix.SessionSettings:
    """Fill ``${NAME}`` in ``template`` from ``variables`` (plus SPEC_DIR), write the result under
    ``out_dir`` for the record, and load it as QuickFIX ``SessionSettings``."""
    check_template(template)
    values = {"SPEC_DIR": str(spec_dir()), **{k: str(v) for k, v in variables.items()}}
    lines = []
    for number, line in enumerate(template.read_text().splitlines(), 1):
        if line.lstrip().startswith("#"):
            continue  # comments may mention ${NAME} too; they are not settings
        try:
            lines.append(string.Template(line).substitute(values))
        except KeyError as exc:
            raise SessionConfigError(f"{template}:{number}: no value for ${{{exc.args[0]}}}") from None
        except ValueError as exc:
            raise SessionConfigError(f"{template}:{number}: {exc}") from None
    text = "\n".join(lines) + "\n"
    out_dir.mkdir(parents=True, exist_ok=True)
    rendered = out_dir / template.name
    rendered.write_text(text)
    settings = fix.SessionSettings(str(rendered))
    check_fixt_sessions(settings, template.name)
    return settings


# What a FIXT.1.1 session of fixgate's needs; QuickFIX takes less and fails later, or worse, quietly.
FIXT_APPL_VERSIONS = ("FIX.5.0SP2", "9")  # DefaultApplVerID: fixgate speaks FIX 5.0 SP2 only
FIXT_TRANSPORT_VERSION = "FIXT.1.1"
FIXT_APP_VERSION = "FIX.5.0SP2"


def check_fixt_sessions(settings: fix.SessionSettings, source: str) -> None:
    """Refuse at start a FIXT.1.1 session that QuickFIX would take and then fail on, naming the session:
    no ``DefaultApplVerID=FIX.5.0SP2`` (QuickFIX throws "ApplVerID is required for FIXT transport" at
    session creation, or would speak a version fixgate does not translate), a
    ``TransportDataDictionary`` that is not the FIXT.1.1 one (an application dictionary there breaks
    the Logon's validation) or an ``AppDataDictionary`` that is not FIX 5.0 SP2's."""
    for session_id in settings.getSessions():
        if session_id.getBeginString().getValue() != FIXT_TRANSPORT_VERSION:
            continue
        values = settings.get(session_id)
        where = f"{source} {session_key(session_id)}"
        version = values.getString("DefaultApplVerID") if values.has("DefaultApplVerID") else None
        if version not in FIXT_APPL_VERSIONS:
            raise SessionConfigError(f"{where}: DefaultApplVerID=FIX.5.0SP2 is required (fixgate speaks FIX 5.0"
                                     f" SP2 over FIXT.1.1), got {version or 'none'}")
        if values.has("UseDataDictionary") and not values.getBool("UseDataDictionary"):
            continue
        for key, wanted, file in (("TransportDataDictionary", FIXT_TRANSPORT_VERSION, "FIXT11.xml"),
                                  ("AppDataDictionary", FIXT_APP_VERSION, "FIX50SP2.xml")):
            path = values.getString(key) if values.has(key) else None
            found = None if path is None else dictionary_version(Path(path))
            if found != wanted:
                raise SessionConfigError(
                    f"{where}: {key} must be the {wanted} dictionary (${{SPEC_DIR}}/{file}), got"
                    f" {path or 'none'}{f' ({found})' if found else ''}")


def dictionary_version(path: Path) -> str | None:
    """The version a QuickFIX data dictionary describes (``FIX.4.4``, ``FIXT.1.1``, ``FIX.5.0SP2``)
    from its root element, or ``None`` if the file cannot be read as one."""
    try:
        for _, element in ET.iterparse(path, events=("start",)):
            kind, major, minor = element.get("type", "FIX"), element.get("major"), element.get("minor")
            pack = element.get("servicepack", "0")
            if major is None or minor is None:
                return None
            return f"{kind}.{major}.{minor}" + (f"SP{pack}" if pack not in ("", "0") else "")
    except (OSError, ET.ParseError):
        return None
    return None


def session_key(session_id: fix.SessionID) -> str:
    """The string a session is known by in the domain, e.g. ``FIX.4.4:FIXGATE->CLIENT1`` (a FIX 5.0 SP2
    session: ``FIXT.1.1:FIXGATE->CLIENT1``)."""
    return str(session_id.toString())


def copy_session_id(session_id: fix.SessionID) -> fix.SessionID:
    """An owned copy: the SessionID passed into a callback belongs to the engine."""
    return fix.SessionID(
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
    )
