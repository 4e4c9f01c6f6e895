"""Qingfeng (清风): the service package. `create_app` is the application factory."""

from __future__ import annotations

import logging
import secrets
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
    # A per-process random key is fine until sessions exist; set one to keep logins across workers.
    app.config["SECRET_KEY"] = cfg.get("server.secret_key") or secrets.token_hex(32)
    app.extensions["qingfeng"] = services

    from bot import health, metrics, simulator, webhook

    app.register_blueprint(webhook.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(metrics.bp)
    if cfg.get("sandbox.enabled"):
        app.register_blueprint(simulator.bp)
    logging.getLogger(__name__).debug("app created with store %s", cfg.store_path)
    return app
