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


DOCKERFILE = COMPOSE.with_name("Dockerfile")


def test_the_web_health_check_is_liveness_not_the_leaderboard() -> None:
    services = compose()["services"]
    web_check = services["web"]["healthcheck"]["test"]
    assert web_check[-1] == "http://localhost:8000/healthz"
    for name, service in services.items():
        assert "/api/v1/leaderboard" not in str(service.get("healthcheck", {})), name
    assert services["migrate"]["healthcheck"] == {"disable": True}  # one-shot: no inherited check


def test_the_image_checks_healthz() -> None:
    lines = DOCKERFILE.read_text(encoding="utf-8").splitlines()
    check = next(index for index, line in enumerate(lines) if line.startswith("HEALTHCHECK"))
    assert "http://localhost:8000/healthz" in " ".join(lines[check : check + 2])


def test_the_worker_heartbeat_comes_well_within_the_readiness_age() -> None:
    from app.config import Settings

    interval = float(compose()["services"]["worker"]["environment"]["WORKER_HEARTBEAT_S"])
    assert interval * 4 <= Settings.model_fields["ready_heartbeat_max_age_s"].default
