"""`python -m bot serve`: the app on gunicorn (a production WSGI server), plus the scheduler.

Each gunicorn worker builds its own app and store connections after the fork, and starts a
scheduler runner; the lease in SQLite lets exactly one of them run jobs.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from bot import create_app
from bot.config import Config
from bot.redact import RedactingGunicornLogger
from bot.services import build_services
from schedules.runner import SchedulerRunner, default_jobs

log = logging.getLogger(__name__)


class QingfengServer(BaseApplication):  # type: ignore[misc]  (gunicorn ships no type hints)
    def __init__(self, config: Config, options: dict[str, Any], *,
                 with_scheduler: bool = True) -> None:
        self.qingfeng_config = config
        self.options = options
        self.with_scheduler = with_scheduler
        self.runner: SchedulerRunner | None = None
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        services = build_services(self.qingfeng_config)
        app = create_app(services=services)
        if self.with_scheduler:
            self.runner = SchedulerRunner(services, jobs=default_jobs())
            self.runner.start()
        return app


def gunicorn_options(config: Config) -> dict[str, Any]:
    server = config.section("server")
    return {
        "bind": f"{server['host']}:{server['port']}",
        "workers": server["workers"],
        "worker_class": "gthread",
        "threads": server["threads"],
        "timeout": 30,
        "graceful_timeout": 10,
        "keepalive": 5,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        # The access log's request line without the callbacks' signatures and nonces.
        "logger_class": RedactingGunicornLogger,
        "worker_exit": _stop_scheduler,
    }


def _stop_scheduler(server: Any, worker: Any) -> None:
    # worker.app is the QingfengServer instance, loaded in this worker after the fork.
    runner = getattr(worker.app, "runner", None)
    if runner is not None:
        runner.stop()


def serve(config: Config, *, with_scheduler: bool = True) -> None:
    QingfengServer(config, gunicorn_options(config), with_scheduler=with_scheduler).run()
