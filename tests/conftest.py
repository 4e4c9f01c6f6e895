"""Shared fixtures: a real app on a real SQLite file in tmp_path, with a clock the test sets."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from flask import Flask
from hypothesis import settings as hypothesis_settings

from bot import create_app
from bot.clock import SHANGHAI, SettableClock
from bot.config import load_config
from bot.seed import initialise
from bot.services import Services, build_services

# Property tests are repeatable: the same examples on every run and machine (a red CI run can
# be reproduced), and no .hypothesis folder. `make fuzz` explores new seeds (tests/fuzz).
hypothesis_settings.register_profile("qingfeng", derandomize=True, database=None)
hypothesis_settings.load_profile("qingfeng")

# A fixed "now" for tests: a Monday in November 2026, 09:00 in Shanghai.
TEST_NOW = datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)

MP_TEST = {"enabled": True, "app_id": "wx0123456789abcdef", "token": "qingfeng-test-token",
           "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"}
WECOM_TEST = {"enabled": True, "corp_id": "ww0123456789abcdef", "agent_id": 1000002,
              "token": "qingfeng-wecom-token",
              "encoding_aes_key": "ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvut"}


def test_config(tmp_path, **sections: dict[str, Any]) -> dict[str, Any]:
    """A config dict for a store in tmp_path; `sections` override or add whole sections."""
    config: dict[str, Any] = {"store": {"path": str(tmp_path / "qingfeng.db")},
                              "sandbox": {"enabled": True}}
    for name, values in sections.items():
        config[name] = {**config.get(name, {}), **values}
    return config


@pytest.fixture
def clock() -> SettableClock:
    return SettableClock(TEST_NOW)


@pytest.fixture
def make_services(tmp_path, clock) -> Iterator[Callable[..., Services]]:
    """Build Services on a fresh database; keyword arguments are config sections."""
    built: list[Services] = []

    def make(demo: bool = True, **sections: dict[str, Any]) -> Services:
        services = build_services(load_config(test_config(tmp_path, **sections)), clock)
        initialise(services, demo=demo)
        built.append(services)
        return services

    yield make
    for services in built:
        services.store.close()


@pytest.fixture
def built(monkeypatch, clock) -> Iterator[list[Services]]:
    """Every Services the CLI (bot.cli) builds uses the test clock; closed at the end."""
    made: list[Services] = []

    def build(config, clock_=None):
        services = build_services(config, clock)
        made.append(services)
        return services

    monkeypatch.setattr("bot.cli.build_services", build)
    yield made
    for services in made:
        services.store.close()


# The Official Account in plaintext mode with the same credentials (mp.mode = "plain"): with
# a key set the default is safe mode, which refuses every plaintext POST.
MP_PLAIN = {**MP_TEST, "mode": "plain"}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "mp_plain: the services fixture's Official Account is in"
                                       " plaintext mode (mp.mode = plain)")


@pytest.fixture
def services(make_services, request: pytest.FixtureRequest) -> Services:
    plain = request.node.get_closest_marker("mp_plain") is not None
    return make_services(mp=MP_PLAIN if plain else MP_TEST, wecom=WECOM_TEST)


@pytest.fixture
def app(services: Services) -> Flask:
    flask_app = create_app(services=services)
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app: Flask):
    return app.test_client()
