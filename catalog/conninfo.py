"""libpq connection strings, above all key=value ones (``host=h port=5432 password='a b'``), read
and written the way libpq does, so fedq can find, redact and keyring-protect their passwords and add
settings to them.

The syntax (libpq's ``conninfo_parse``): pairs ``keyword = value`` separated by whitespace, spaces
allowed around ``=`` (a value may therefore not start with a space unless quoted); a value is either
a run of non-space characters or a single-quoted string, and in both a backslash takes the next
character literally (``\\'``, ``\\\\``, ``\\ ``). A later pair overrides an earlier one. Errors name
the character position, never the text around it, because that text may be a password.
"""
from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit

URI_PREFIXES = ("postgresql://", "postgres://")
SECRET_KEYWORDS = ("password", "sslpassword")  # passfile / sslkey are paths, not secrets
_SPACE = " \t\n\v\f\r"  # C isspace() in the C locale, as libpq tests it


def is_conninfo(dsn: str) -> bool:
    """True when libpq would read ``dsn`` as key=value pairs (not a URI, and it has an ``=``)."""
    return not dsn.startswith(URI_PREFIXES) and "=" in dsn


def _skip_space(text: str, at: int) -> int:
    while at < len(text) and text[at] in _SPACE:
        at += 1
    return at


def _keyword(text: str, at: int) -> tuple[str, int]:
    """The keyword starting at ``at`` and the position just after its ``=``."""
    start = at
    while at < len(text) and text[at] != "=" and text[at] not in _SPACE:
        at += 1
    keyword = text[start:at]
    at = _skip_space(text, at)
    if at >= len(text) or text[at] != "=" or not keyword:
        raise ValueError(f"key=value DSN: missing '=' after the keyword at character {start + 1}")
    return keyword, at + 1


def _value(text: str, at: int) -> tuple[str, int, int]:
    """The (unescaped) value starting at ``at``, where its text ends, and where the next pair may start."""
    quoted = at < len(text) and text[at] == "'"
    start, at = at, at + quoted
    chars: list[str] = []
    while True:
        if at >= len(text):
            if quoted:
                raise ValueError(f"key=value DSN: unterminated quoted value starting at character {start + 1}")
            return "".join(chars), at, at
        char = text[at]
        if char == "\\":
            chars.append(text[at + 1:at + 2])
            at += 2
        elif quoted and char == "'":
            return "".join(chars), at + 1, at + 1
        elif not quoted and char in _SPACE:
            return "".join(chars), at, at + 1
        else:
            chars.append(char)
            at += 1


def spans(dsn: str) -> list[tuple[str, str, int, int]]:
    """``(keyword, value, start, end)`` for each pair in order: the value unescaped, and where its
    text (quotes included) is in ``dsn``. ValueError names a bad position, never the text."""
    pairs: list[tuple[str, str, int, int]] = []
    at = _skip_space(dsn, 0)
    while at < len(dsn):
        keyword, at = _keyword(dsn, at)
        start = _skip_space(dsn, at)
        value, end, at = _value(dsn, start)
        pairs.append((keyword, value, start, end))
        at = _skip_space(dsn, at)
    return pairs


def parse(dsn: str) -> list[tuple[str, str]]:
    """``(keyword, value)`` pairs in order, values unescaped."""
    return [(keyword, value) for keyword, value, _, _ in spans(dsn)]


def settings(dsn: str) -> dict[str, str]:
    """The effective settings (a later pair overrides an earlier one, as in libpq)."""
    return dict(parse(dsn))


def quote(value: str) -> str:
    """``value`` as libpq reads it back: bare when it is plain, else single-quoted and escaped."""
    if value and not any(c in _SPACE or c in "'\\" for c in value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def escape_bare(value: str) -> str:
    """``value`` escaped to stand unquoted after ``keyword=`` (text substituted for a ``${…}``
    reference in a bare value must not end the value at a space or open a quote)."""
    return "".join("\\" + c if c in _SPACE or c in "'\\" else c for c in value)


def render(pairs: list[tuple[str, str]]) -> str:
    """A key=value DSN holding ``pairs``, every value quoted as needed."""
    return " ".join(f"{keyword}={quote(value)}" for keyword, value in pairs)


def with_defaults(dsn: str, defaults: dict[str, str]) -> str:
    """``dsn`` rewritten with each of ``defaults`` the DSN does not set itself."""
    pairs = parse(dsn)
    present = {keyword for keyword, _ in pairs}
    return render(pairs + [(k, v) for k, v in defaults.items() if k not in present])


def describe(dsn: str) -> str:
    """``host:port/dbname`` of a key=value DSN, for SHOW SOURCES (no user, no secret)."""
    try:
        values = settings(dsn)
    except ValueError:
        return "(malformed key=value DSN)"
    host = values.get("host") or values.get("hostaddr") or "localhost"
    return f"{host}:{values.get('port') or 5432}/{values.get('dbname', '')}"


def secret_values(dsn: str) -> tuple[str, ...]:
    """The password-like values of a key=value DSN, unescaped and as written, to scrub from error
    text (none if it is malformed: it then never reaches libpq)."""
    try:
        pairs = spans(dsn)
    except ValueError:
        return ()
    found = [form for keyword, value, start, end in pairs if keyword in SECRET_KEYWORDS and value
             for form in (value, dsn[start:end])]
    return tuple(dict.fromkeys(found))


def url_secret_values(url: str) -> tuple[str, ...]:
    """The password of a ``postgresql://`` URL and any ``password``/``sslpassword`` query parameter."""
    parts = urlsplit(url)
    found = [unquote(parts.password or "")] + [v for k, v in parse_qsl(parts.query) if k in SECRET_KEYWORDS]
    return tuple(dict.fromkeys(v for v in found if v))
