"""Qingfeng (清风): the service package. `create_app` is the application factory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from bot.clock import Clock
from bot.config import Config, load_config
from bot.services import Services, build_services
from bot.wire import MAX_BODY_BYTES

__all__ = ["create_app"]


def create_app(config: Config | str | Path | Mapping[str, Any] | None = None, *,
               clock: Clock | None = None, services: Services | None = None) -> Flask:
    """Build the web app (webhooks, simulator, health). The scheduler is not started here:
    `python -m bot serve` starts it, so tests and embedding stay simple."""
    if services is None:
        cfg = config if isinstance(config, Config) else load_config(config)
        services = build_services(cfg, clock)
    cfg = services.config
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["qingfeng"] = services
    from bot import console

    # The console's sessions need one signing key for every worker and restart:
    # server.secret_key (env QINGFENG_SERVER_SECRET_KEY) or a random one kept in the database.
    console.init_app(app, services)

    from bot import health, metrics, simulator, webhook

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    if cfg.get("sandbox.enabled"):
        app.register_blueprint(simulator.bp)
    logging.getLogger(__name__).debug("app created with store %s", cfg.store_path)
    return app
