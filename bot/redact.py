"""Keep secrets out of the logs: the platforms take the app secret and the access token in the
query string (gettoken?corpsecret=..., send?access_token=...), and urllib3 logs every request's
URL at DEBUG. A filter on that logger masks those values before any handler sees them."""

from __future__ import annotations

import logging
import re

# Query parameters whose values are secrets, in any URL a library might log.
SECRET_PARAMS = re.compile(
    r"((?:access_token|corpsecret|secret|appsecret|app_secret|provider_secret|suite_secret)=)"
    r"[^&\s\"'#]+", re.IGNORECASE)
URL_LOGGERS = ("urllib3.connectionpool",)


def redact(text: str) -> str:
    return SECRET_PARAMS.sub(r"\1***", text)


class RedactSecrets(logging.Filter):
    """Masks secret query values in a record's message and arguments (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Idempotent: each logger gets one filter however many times services are built."""
    for name in URL_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
