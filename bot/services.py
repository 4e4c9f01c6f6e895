"""The service's long-lived parts, built once per process and shared by the web app, the CLI
and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bot.clock import Clock
from bot.config import Config
from bot.store import Store
from handlers.router import Router


@dataclass
class Services:
    config: Config
    store: Store
    clock: Clock
    router: Router
    # Channel adapters, built on first use by bot.delivery.channels_of (they hold HTTP sessions).
    channels: dict[str, Any] | None = field(default=None, repr=False)


def build_services(config: Config, clock: Clock | None = None) -> Services:
    from bot import redact
    from handlers import router  # imported here so registering handlers happens once, lazily

    redact.install()  # before any channel makes a request: web, CLI and scheduler alike
    return Services(config=config, store=Store(config.store_path), clock=clock or Clock(config.tz),
                    router=router)
