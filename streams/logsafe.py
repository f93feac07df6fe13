"""Keep secrets out of every log line, whoever writes it.

Our own code never logs a secret, but libraries may: kafka-python's ``KafkaAdminClient`` logs
its whole configuration at DEBUG, ``sasl_plain_password`` included. ``install_redaction`` wraps
the process's log-record factory so that any record whose message contains a secret (or its
``repr`` form) gets the secret replaced by ``***`` before any handler, ours or Faust's, sees it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from streams.settings import Settings

MASK = "***"
_installed: list[str] = []


def secret_values(settings: Settings) -> list[str]:
    """The secrets a settings object holds (SASL password, webhook secret)."""
    found = []
    for secret in (settings.sasl_password, settings.webhook_secret):
        if secret is not None and secret.get_secret_value():
            found.append(secret.get_secret_value())
    return found


def install_redaction(secrets: Iterable[str]) -> None:
    """Mask these secrets in every log record from now on (idempotent per secret)."""
    forms: set[str] = set()
    for value in secrets:
        if len(value) < 4 or value in _installed:  # a 1-3 character "secret" would mask noise
            continue
        _installed.append(value)
        forms.update({value, repr(value)[1:-1], ascii(value)[1:-1]})
    if not forms:
        return
    ordered = sorted(forms, key=len, reverse=True)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logging module's to report
            return record
        if any(form in message for form in ordered):
            for form in ordered:
                message = message.replace(form, MASK)
            record.msg, record.args = message, None
        return record

    logging.setLogRecordFactory(factory)
