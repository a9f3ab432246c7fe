"""The compose file has no default secret and publishes no unauthenticated Flower."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.yml"


def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return document


def test_every_app_service_requires_a_secret_key() -> None:
    services = compose()["services"]
    for name in ("migrate", "web", "worker", "flower"):
        environment = services[name]["environment"]
        assert environment["SECRET_KEY"].startswith("${SECRET_KEY:?"), name
        assert environment["ENVIRONMENT"] == "production", name


def test_flower_is_opt_in_authenticated_and_local_only() -> None:
    flower = compose()["services"]["flower"]
    assert flower["profiles"] == ["monitoring"]
    assert all(port.startswith("127.0.0.1:") for port in flower["ports"])
    script = " ".join(flower["command"])
    assert 'test -n "$$FLOWER_BASIC_AUTH" ||' in script and "exit 1" in script
