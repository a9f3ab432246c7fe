"""The labels of the request latency histogram (``app.services.operations.metrics``), which the request
log middleware (``app.http.request_log``) observes: route template, method and status class.

The route label is the template of the route that answered (``/api/v1/models/{org}/{name}``), never the raw
path, so its values stay few: a path no route takes is ``unmatched``, a method outside the usual ones is
``other``. The router leaves the route it chose in the scope; FastAPI's included routers leave their own
route, whose path lacks the prefixes it was included under, so each route's full template is looked up
once in the app's routes (``fastapi.routing.iter_route_contexts`` where FastAPI nests included routers).
A request the router did not see (HEAD runs on a copy of the scope as GET; a request refused before
routing) is matched against the routes afterwards.
"""

from __future__ import annotations

from typing import Any

from starlette.routing import Match
from starlette.types import Scope

try:  # FastAPI >= 0.165 keeps included routers nested and lists their routes through this
    from fastapi.routing import iter_route_contexts
except ImportError:  # older FastAPI copies included routes, full paths and all, into the app
    iter_route_contexts = None  # type: ignore[assignment]

UNMATCHED = "unmatched"
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_STATUS_CLASSES = {digit: f"{digit}xx" for digit in range(1, 6)}


def _template_of(route: Any) -> str | None:
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else None


class RouteTemplates:
    """The full template of every route of one app, worked out on first use."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, Any]] | None = None  # (template, matchable route), in routing order
        self._by_route: dict[int, list[tuple[str, Any]]] = {}

    def _load(self, app: Any) -> list[tuple[str, Any]]:
        routes = getattr(getattr(app, "router", None), "routes", [])
        contexts = list(iter_route_contexts(routes)) if iter_route_contexts is not None else list(routes)
        self._routes = []
        for context in contexts:
            template = _template_of(context)
            if template is None:
                continue
            self._routes.append((template, context))
            original = getattr(context, "original_route", context)
            self._by_route.setdefault(id(original), []).append((template, context))
        return self._routes

    def template(self, scope: Scope) -> str:
        """The template of the route that answered, read after the app ran."""
        routes = self._routes if self._routes is not None else self._load(scope.get("app"))
        route = scope.get("route")
        if route is not None:
            found = self._by_route.get(id(route))
            if not found:
                return _template_of(route) or UNMATCHED  # a route added after the first request
            if len(found) == 1:
                return found[0][0]
            return self._matching(found, scope) or found[0][0]  # one route under several prefixes
        if "app_root_path" in scope:  # a mount took it and moved its own path into root_path
            return str(scope.get("root_path", ""))[len(scope["app_root_path"]) :] + "/{path}"
        probe = {**scope, "method": "GET"} if scope.get("method") == "HEAD" else scope
        return self._matching(routes, probe) or UNMATCHED

    @staticmethod
    def _matching(routes: list[tuple[str, Any]], scope: Scope) -> str | None:
        partial = None
        for template, route in routes:
            match, _ = route.matches(scope)
            if match is Match.FULL:
                return template
            if match is Match.PARTIAL and partial is None:
                partial = template  # the path is right, the method is not (a 405)
        return partial


def status_class(status: int) -> str:
    return _STATUS_CLASSES.get(status // 100, "other")


def method_label(method: str) -> str:
    return method if method in METHODS else "other"
