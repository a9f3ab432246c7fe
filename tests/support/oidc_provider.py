"""A local OpenID Connect provider, for tests of "Sign in with Hugging Face".

It does what the Hub's provider does for an authorization-code sign-in, with one user who always agrees:

- ``GET /.well-known/openid-configuration``: the discovery document;
- ``GET /oauth/authorize``: checks the client and redirect URI, then redirects back with a code and the state;
- ``POST /oauth/token``: exchanges the code (client id and secret by HTTP Basic or form) for an access token
  and an RS256-signed ID token carrying the nonce;
- ``GET /oauth/userinfo`` (Bearer) and ``GET /oauth/jwks``: the user's claims and the signing key.

``user`` holds the claims of the user who signs in next; ``requests`` lists the paths asked for.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    claims: dict[str, Any]


@dataclass
class OidcProvider:
    client_id: str
    client_secret: str
    user: dict[str, Any] = field(
        default_factory=lambda: {"sub": "u-1", "preferred_username": "alice", "name": "Alice"}
    )
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "test-key", "use": "sig", "alg": "RS256"})
        self._grants: dict[str, Grant] = {}
        self._tokens: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="oidc-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> OidcProvider:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.url,
            "authorization_endpoint": f"{self.url}/oauth/authorize",
            "token_endpoint": f"{self.url}/oauth/token",
            "userinfo_endpoint": f"{self.url}/oauth/userinfo",
            "jwks_uri": f"{self.url}/oauth/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        }

    def authorize(self, query: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if query.get("client_id") != self.client_id or query.get("response_type") != "code":
            return 400, {}, {"error": "invalid_request"}
        redirect_uri = query.get("redirect_uri", "")
        code = secrets.token_urlsafe(16)
        with self._lock:
            self._grants[code] = Grant(self.client_id, redirect_uri, query.get("nonce"), dict(self.user))
        back = {"code": code, "state": query.get("state", "")}
        return 302, {"Location": f"{redirect_uri}?{urlencode(back)}"}, None

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, Any]:
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, client_secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 401, {"error": "invalid_client"}
        with self._lock:
            grant = self._grants.pop(form.get("code", ""), None)
        if grant is None or grant.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant"}
        now = int(time.time())
        claims = {**grant.claims, "iss": self.url, "aud": client_id, "iat": now, "exp": now + 300}
        if grant.nonce:
            claims["nonce"] = grant.nonce
        id_token = jwt.encode({"alg": "RS256", "kid": "test-key"}, claims, self.key)
        access_token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[access_token] = grant.claims
        body = {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}
        return 200, {**body, "scope": "openid profile"}

    def userinfo(self, authorization: str | None) -> tuple[int, Any]:
        token = (authorization or "").removeprefix("Bearer ")
        with self._lock:
            claims = self._tokens.get(token)
        return (200, claims) if claims is not None else (401, {"error": "invalid_token"})


def _make_handler(provider: OidcProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            provider.requests.append(parts.path)
            query = {key: values[0] for key, values in parse_qs(parts.query).items()}
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif parts.path == "/oauth/jwks":
                self._json(200, {"keys": [provider.key.as_dict(private=False)]})
            elif parts.path == "/oauth/authorize":
                status, headers, body = provider.authorize(query)
                self._json(status, body, headers)
            elif parts.path == "/oauth/userinfo":
                self._json(*provider.userinfo(self.headers.get("Authorization")))
            else:
                self._json(404, {"error": "not_found"})

        def do_POST(self) -> None:
            parts = urlsplit(self.path)
            provider.requests.append(parts.path)
            length = int(self.headers.get("Content-Length") or 0)
            form = {key: values[0] for key, values in parse_qs(self.rfile.read(length).decode()).items()}
            if parts.path == "/oauth/token":
                self._json(*provider.token(form, self.headers.get("Authorization")))
            else:
                self._json(404, {"error": "not_found"})

        def _json(self, status: int, document: Any, headers: dict[str, str] | None = None) -> None:
            body = b"" if document is None else json.dumps(document).encode()
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
