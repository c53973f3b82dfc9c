"""Secrets in log lines: the check the test plugin runs over every log line of a run.

A line is refused if it holds something shaped like a secret (an access token, a bcrypt
hash, an API key, a webhook secret, a cookie) or any secret the run's requests and
responses carried (:meth:`LogScan.harvest`: refresh tokens, reset and verification
codes, CSRF tokens, passwords), as a whole word.

Two loggers are spared, as they exist to show a mail whole: the console mail backend's
(``blog.mail``: development's way of reading a reset link) and the test SMTP server's.
The codes in their links are secrets the other lines must not hold.
"""

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import parse_qsl, unquote

import httpx2 as httpx

from blog.observability.logs import JsonFormatter
from blog.testing.mail import token_in

SHAPES = {
    "an access token (JWT)": re.compile(r"eyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]*"),
    "a bcrypt hash": re.compile(r"\$2[abxy]?\$\d\d\$[./A-Za-z0-9]{20,}"),
    "an API key": re.compile(r"blog_[ac]k_[A-Za-z0-9]{12}"),
    "a webhook secret": re.compile(r"whsec_[A-Za-z0-9+/]{16,}"),
    "a cookie": re.compile(r"(?i)\b(?:set-)?cookie\b\W{0,4}[\w.-]+=|blog_(?:refresh|csrf)\w*="),
    "a credential": re.compile(r"(?i)\b(?:bearer|token)\s+[\w.~+/-]{20,}"),
}
SPARED_LOGGERS = frozenset({"blog.mail", "mail.log"})
# Harvested values shorter than this are not secrets worth the false alarms ("x", "abc").
MIN_SECRET_LENGTH = 10
_SECRET_FIELD = re.compile(r"(?i)token|password|secret|^key$|code")
_WORDS = re.compile(r"[\w-]+")
_SECRET_HEADERS = ("authorization", "x-api-key", "x-csrf-token")
_LINK_CODE = re.compile(r"[?&]token=([^&\s\"]+)")


@dataclass(frozen=True, slots=True)
class Finding:
    logger: str
    what: str
    line: str

    def __str__(self) -> str:
        return f"{self.logger}: {self.what} in {self.line[:300]!r}"


def _secret_values(data: Any) -> Iterable[str]:
    """String values of fields named like secrets, anywhere in parsed JSON or a form."""
    if isinstance(data, Mapping):
        for name, value in data.items():
            if isinstance(value, str) and _SECRET_FIELD.search(str(name)):
                yield value
            else:
                yield from _secret_values(value)
    elif isinstance(data, list):
        for item in data:
            yield from _secret_values(item)


def _parsed(content: bytes, content_type: str) -> Any:
    try:
        if "json" in content_type:
            return json.loads(content)
        if "x-www-form-urlencoded" in content_type:
            return dict(parse_qsl(content.decode()))
    except (ValueError, UnicodeDecodeError):
        return None
    return None


@dataclass
class LogScan:
    """Every log line of a run (as JSON, extras included) and the secrets seen in it."""

    lines: list[tuple[str, str]] = field(default_factory=list)  # (logger, line)
    secrets: set[str] = field(default_factory=set)

    def add_secret(self, value: str) -> None:
        value = value.strip()
        if len(value) >= MIN_SECRET_LENGTH:
            self.secrets.add(value)

    def harvest(self, headers: httpx.Headers, content: bytes) -> None:
        """Remember the secrets of a request's or a response's headers and body."""
        for name in _SECRET_HEADERS:
            for value in headers.get_list(name):
                self.add_secret(value.split(" ", 1)[-1])
        for name in ("cookie", "set-cookie"):
            for value in headers.get_list(name):
                for morsel in SimpleCookie(value).values():
                    self.add_secret(morsel.value)
        for value in _secret_values(_parsed(content, headers.get("content-type", ""))):
            self.add_secret(value)

    def add_mailed(self, messages: Iterable[EmailMessage]) -> None:
        """Remember the codes of the links in these mails (verification, reset, …)."""
        for message in messages:
            with contextlib.suppress(AssertionError, KeyError, ValueError):
                self.add_secret(token_in(message))

    def on_request(self, request: httpx.Request) -> None:
        self.harvest(request.headers, request.read())

    def on_response(self, response: httpx.Response) -> None:
        self.harvest(response.headers, response.read())

    def findings(self) -> list[Finding]:
        mailed = {
            unquote(code)
            for logger, line in self.lines
            if logger in SPARED_LOGGERS
            for code in _LINK_CODE.findall(line)
        }
        return find_secrets(self.lines, self.secrets | mailed)


def find_secrets(lines: Iterable[tuple[str, str]], secrets: Iterable[str] = ()) -> list[Finding]:
    """The lines holding a secret: one of ``SHAPES``, or one of ``secrets`` as a whole word
    (a secret of several words, such as a password with spaces, anywhere)."""
    words = {secret for secret in secrets if _WORDS.fullmatch(secret)}
    phrases = [secret for secret in secrets if secret not in words]
    found = []
    for logger, line in lines:
        if logger in SPARED_LOGGERS:
            continue
        what = next((name for name, shape in SHAPES.items() if shape.search(line)), None)
        if what is None and not words.isdisjoint(_WORDS.findall(line)):
            what = "a secret the run used"
        if what is None and any(phrase in line for phrase in phrases):
            what = "a secret the run used"
        if what is not None:
            found.append(Finding(logger, what, line))
    return found


class CaptureHandler(logging.Handler):
    """Keeps every record it is given, as the JSON line it would be in production."""

    def __init__(self, scan: LogScan) -> None:
        super().__init__(logging.NOTSET)
        self.scan = scan
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.scan.lines.append((record.name, self.format(record)))
        except Exception:  # a record that cannot be formatted is not ours to fail on
            self.handleError(record)
