"""QuickFIX session settings: the shipped ``.cfg`` templates, rendered with paths and ports at start."""

from __future__ import annotations

import string
import sys
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
    return fix.SessionSettings(str(rendered))


def session_key(session_id: fix.SessionID) -> str:
    """The string a session is known by in the domain, e.g. ``FIX.4.4:FIXGATE->CLIENT1``."""
    return str(session_id.toString())


def copy_session_id(session_id: fix.SessionID) -> fix.SessionID:
    """An owned copy: the SessionID passed into a callback belongs to the engine."""
    return fix.SessionID(
        session_id.getBeginString().getValue(),
        session_id.getSenderCompID().getValue(),
        session_id.getTargetCompID().getValue(),
    )
