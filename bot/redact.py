"""Keep secrets out of the logs, in one place.

Two kinds of query values are masked wherever a URL is logged:
- outbound secrets: the platforms take the app secret and the access token in the query string
  (gettoken?corpsecret=..., send?access_token=...), and urllib3 logs every request's URL at DEBUG;
- the callbacks' own values: WeChat puts `signature`, `msg_signature`, `timestamp`, `nonce`,
  `echostr` (and the member's `openid`) in every callback's query string. The plaintext
  `signature` covers only token + timestamp + nonce, so one logged line would let its reader
  sign a message for the next minutes; the openid names a member.

Where: gunicorn's access log (`RedactingGunicornLogger`, the `logger_class` bot.server gives
gunicorn: the request line, query string, referer and URI atoms are masked before the access
log format sees them) and every logging handler present when services are built (the root's,
which every application logger reaches, and gunicorn's error log), through `RedactSecrets`.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

# Query parameters whose values are secrets, in any URL a library might log.
SECRET_PARAMS = re.compile(
    r"((?:access_token|corpsecret|secret|appsecret|app_secret|provider_secret|suite_secret)=)"
    r"[^&\s\"'#]+", re.IGNORECASE)
# The callbacks' query values (a whole name: `signature` is not the tail of another word).
CALLBACK_PARAMS = re.compile(
    r"((?<!\w)(?:msg_signature|signature|timestamp|nonce|echostr|openid)=)[^&\s\"'#]*",
    re.IGNORECASE)
URL_LOGGERS = ("urllib3.connectionpool", "gunicorn.error")
# gunicorn access-log atoms that carry a URL or a query string.
URL_ATOMS = ("r", "q", "f", "{raw_uri}e", "{request_uri}e", "{query_string}e", "{referer}i")


def redact(text: str) -> str:
    if "=" not in text:  # the common case, on every access-log line: no regex at all
        return text
    return CALLBACK_PARAMS.sub(r"\1***", SECRET_PARAMS.sub(r"\1***", text))


class RedactSecrets(logging.Filter):
    """Masks secret query values in a record's message, arguments and traceback text (never
    drops a record). On a handler it sees every record that reaches the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RedactingGunicornLogger(GunicornLogger):  # type: ignore[misc]  (gunicorn has no hints)
    """gunicorn's logger with the URL atoms masked: the path and status stay in the line."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any],
              request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        for name in URL_ATOMS:
            value = atoms.get(name)
            if isinstance(value, str):
                atoms[name] = redact(value)
        return atoms


def install() -> None:
    """Idempotent: each logger and handler gets one filter however many times services are
    built. Handlers added later (a test's log capture) are not covered."""
    targets: list[logging.Filterer] = [logging.getLogger(name) for name in URL_LOGGERS]
    for logger in (logging.getLogger(), *targets):
        if isinstance(logger, logging.Logger):
            targets.extend(logger.handlers)
    for target in targets:
        if not any(isinstance(f, RedactSecrets) for f in target.filters):
            target.addFilter(RedactSecrets())
