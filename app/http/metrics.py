"""Request latency by route template, method and status class (pure ASGI; the histogram is in
``app.services.operations.metrics``), and the route template itself, which the request log shares.

The route label is the template of the route that answered (``/api/v1/models/{org}/{name}``), never the raw
path, so its values stay few: a path no route takes is ``unmatched``, a method outside the usual ones is
``other``. The router records its route in the scope; FastAPI's included routers record it with the path
relative to their prefix, which is taken back off the request path. Where a middleware ran the app on a copy
of the scope (HEAD runs as GET), ``RouteRecorder``, innermost, hands the route out through a slot that the
copies share.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.operations.metrics import RequestMetrics

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
ROUTE_SLOT = "rewardboard.route"
MAX_PREFIXES = 64  # router prefixes are a handful; a bound keeps a mistake from growing the label set
_STATUS_CLASSES = {digit: f"{digit}xx" for digit in range(1, 6)}


@dataclass(slots=True)
class RouteSlot:
    route: Any = None


class RouteRecorder:
    """Innermost middleware: puts the route the router chose in the request's slot."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            slot = scope.get(ROUTE_SLOT)
            if slot is not None and slot.route is None:
                slot.route = scope.get("route")


def open_route_slot(scope: Scope) -> None:
    """Called by the outer middlewares before the app runs."""
    if ROUTE_SLOT not in scope:
        scope[ROUTE_SLOT] = RouteSlot()


class _Prefixes:
    """The router prefix in front of each route (``/api/v1``), found once per route from a request path."""

    def __init__(self) -> None:
        self._by_route: dict[int, str] = {}
        self._seen: set[str] = {""}

    def template(self, route: Any, path: str) -> str:
        template: str = getattr(route, "path_format", None) or getattr(route, "path", None) or UNMATCHED
        regex = getattr(route, "path_regex", None)
        if regex is None or template == UNMATCHED:
            return template
        prefix = self._by_route.get(id(route))
        if prefix is None or not (path.startswith(prefix) and regex.match(path[len(prefix) :])):
            prefix = self._find(regex, path)
            if prefix is None:
                return template
            self._by_route[id(route)] = prefix
        return prefix + template

    def _find(self, regex: Any, path: str) -> str | None:
        start = 0
        while start != -1:
            if regex.match(path[start:]):  # not match(path, start): ^ anchors at the string's start
                prefix = path[:start]
                if prefix not in self._seen and len(self._seen) >= MAX_PREFIXES:
                    return None
                self._seen.add(prefix)
                return prefix
            start = path.find("/", start + 1)
        return None


_prefixes = _Prefixes()


def _matching_route(scope: Scope) -> Any:
    router = getattr(scope.get("app"), "router", None)
    partial = None
    for route in getattr(router, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            return route
        if match is Match.PARTIAL and partial is None:
            partial = route
    return partial


def route_template(scope: Scope) -> str:
    """The template of the route that answered, read after the app ran (``unmatched`` for none)."""
    route = scope.get("route")
    if route is None:
        slot = scope.get(ROUTE_SLOT)
        route = slot.route if slot is not None else None
        if route is None:
            if "app_root_path" in scope:  # a mount took it and moved its own path into root_path
                return scope.get("root_path", "")[len(scope["app_root_path"]) :] + "/{path}"
            route = _matching_route(scope)  # a mount under HEAD, or a request refused before routing
            if slot is not None:
                slot.route = route
    if route is None:
        return UNMATCHED
    path: str = scope["path"]
    root_path: str = scope.get("root_path", "")
    if root_path and path.startswith(root_path):
        path = path[len(root_path) :]
    return _prefixes.template(route, path)


def status_class(status: int) -> str:
    return _STATUS_CLASSES.get(status // 100, "other")


class RequestMetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: RequestMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before answering
        open_route_slot(scope)

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, recording_send)
        finally:
            method = scope["method"] if scope["method"] in METHODS else "other"
            self.metrics.observe(
                method, route_template(scope), status_class(status), time.perf_counter() - started
            )
