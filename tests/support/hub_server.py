"""A local stand-in for the Hugging Face Hub, for tests.

It serves the parts of the Hub API that huggingface_hub and transformers use to look at and download a model:

- ``GET /api/models/{org}/{name}`` and ``/api/models/{org}/{name}/revision/{rev}``: model info (sha, siblings,
  safetensors parameter counts, private, gated);
- ``GET /api/models/{org}/{name}/tree/{rev}[/{path}]``: a directory listing;
- ``GET|HEAD /{org}/{name}/resolve/{rev}/{filename}``: file content with ETag, X-Repo-Commit, Content-Length
  and Range support;
- 404/401/403 answers with the ``X-Error-Code`` header the real Hub sends (RepoNotFound, RevisionNotFound,
  EntryNotFound, GatedRepo), so the client raises its own typed errors.

Repo ids are matched case-insensitively, as on the Hub, and model info gives the id as it was published.
``stall()`` makes every request hang until ``release()`` (a Hub that accepts connections and never answers);
``waiting`` counts the requests hanging now and ``most_waiting`` the most at once.

Point a process at it with ``HF_ENDPOINT=<server.url>`` (huggingface_hub reads it once, at import), or pass
``endpoint=server.url`` to an ``HfApi``. Only ``org/name`` repo ids are served.
"""

from __future__ import annotations

import hashlib
import json
import re
import struct
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

_DTYPE_NAMES = {"F32": "F32", "F16": "F16", "BF16": "BF16", "I64": "I64", "I32": "I32", "F64": "F64"}


def git_blob_sha(content: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


def safetensors_parameters(content: bytes) -> dict[str, int]:
    """Parameter counts per dtype, read from a safetensors header."""
    (header_len,) = struct.unpack("<Q", content[:8])
    header = json.loads(content[8 : 8 + header_len])
    counts: dict[str, int] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        n = 1
        for dim in entry["shape"]:
            n *= dim
        dtype = _DTYPE_NAMES.get(entry["dtype"], entry["dtype"])
        counts[dtype] = counts.get(dtype, 0) + n
    return counts


@dataclass
class HubRepo:
    repo_id: str
    files: dict[str, bytes]
    sha: str
    private: bool = False
    gated: bool | str = False
    branches: dict[str, str] = field(default_factory=dict)
    safetensors_info: bool = True
    # What the model info's safetensors metadata declares instead of the files' own count (a repo that
    # stands for a 70B model without 140 GB of weights); dry runs read only that.
    declared_parameters: int | None = None

    def commit_for(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        if revision == self.sha:
            return self.sha
        return None

    def info(self) -> dict[str, Any]:
        siblings = []
        parameters: dict[str, int] = {}
        for name, content in sorted(self.files.items()):
            sibling: dict[str, Any] = {"rfilename": name}
            siblings.append(sibling)
            if name.endswith(".safetensors"):
                for dtype, n in safetensors_parameters(content).items():
                    parameters[dtype] = parameters.get(dtype, 0) + n
        document: dict[str, Any] = {
            "_id": hashlib.md5(self.repo_id.encode()).hexdigest()[:24],
            "id": self.repo_id,
            "modelId": self.repo_id,
            "author": self.repo_id.split("/")[0],
            "sha": self.sha,
            "private": self.private,
            "gated": self.gated,
            "disabled": False,
            "downloads": 0,
            "likes": 0,
            "tags": ["transformers", "safetensors"] if parameters else ["transformers"],
            "library_name": "transformers",
            "lastModified": "2026-01-01T00:00:00.000Z",
            "createdAt": "2026-01-01T00:00:00.000Z",
            "siblings": siblings,
        }
        if self.declared_parameters is not None:
            parameters = {"BF16": self.declared_parameters}
        if parameters and self.safetensors_info:
            document["safetensors"] = {"parameters": parameters, "total": sum(parameters.values())}
        return document


class HubServer:
    """A threaded HTTP server on 127.0.0.1 with a random port. Use as a context manager or start()/stop()."""

    def __init__(self) -> None:
        self.repos: dict[str, HubRepo] = {}
        self.requests: list[tuple[str, str]] = []
        self.down = False  # every request answers 503
        self.failing: set[str] = set()  # these repo ids answer 503
        self.waiting = 0
        self.most_waiting = 0
        self._answering = threading.Event()
        self._answering.set()
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="hub-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HubServer:
        self._thread.start()
        return self

    def stall(self) -> None:
        """From now on every request hangs until ``release()``."""
        with self._lock:
            self.most_waiting = 0
        self._answering.clear()

    def release(self) -> None:
        self._answering.set()

    def wait_if_stalled(self) -> None:
        if self._answering.is_set():
            return
        with self._lock:
            self.waiting += 1
            self.most_waiting = max(self.most_waiting, self.waiting)
        try:
            self._answering.wait()
        finally:
            with self._lock:
                self.waiting -= 1

    def stop(self) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> HubServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_repo(
        self,
        repo_id: str,
        files: dict[str, bytes],
        *,
        private: bool = False,
        gated: bool | str = False,
        branches: tuple[str, ...] = ("main",),
        safetensors_info: bool = True,
        declared_parameters: int | None = None,
    ) -> HubRepo:
        """Publish files as one commit of ``repo_id``; each name in ``branches`` points at that commit."""
        digest = hashlib.sha1(repo_id.encode())
        for name in sorted(files):
            digest.update(name.encode())
            digest.update(files[name])
        sha = digest.hexdigest()
        repo = HubRepo(
            repo_id=repo_id,
            files=dict(files),
            sha=sha,
            private=private,
            gated=gated,
            branches=dict.fromkeys(branches, sha),
            safetensors_info=safetensors_info,
            declared_parameters=declared_parameters,
        )
        with self._lock:
            self.repos[repo_id] = repo
        return repo

    def add_repo_from_dir(
        self,
        repo_id: str,
        directory: Path,
        *,
        drop: tuple[str, ...] = (),
        extra: dict[str, bytes] | None = None,
        **options: Any,
    ) -> HubRepo:
        files = {
            path.relative_to(directory).as_posix(): path.read_bytes()
            for path in sorted(directory.rglob("*"))
            if path.is_file() and path.relative_to(directory).as_posix() not in drop
        }
        files.update(extra or {})
        return self.add_repo(repo_id, files, **options)

    def downloaded(self, suffix: str) -> list[str]:
        """Paths of GET requests for files whose name ends with ``suffix``."""
        return [path for method, path in self.requests if method == "GET" and path.endswith(suffix)]

    def remove_repo(self, repo_id: str) -> None:
        with self._lock:
            self.repos.pop(repo_id, None)

    def repo(self, repo_id: str) -> HubRepo | None:
        """The repo under ``repo_id`` in any casing."""
        with self._lock:
            found = self.repos.get(repo_id)
            if found is None:
                folded = repo_id.lower()
                found = next((repo for key, repo in self.repos.items() if key.lower() == folded), None)
            return found


class _QuietServer(ThreadingHTTPServer):
    """A client that gave up on a stalled request closes its connection; that is no error of ours."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


_API_INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
_API_TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)(?:/(?P<path>.*))?$")
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<file>.+)$")


def _make_handler(hub: HubServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_HEAD(self) -> None:
            self._dispatch(head=True)

        def do_GET(self) -> None:
            self._dispatch(head=False)

        def _dispatch(self, *, head: bool) -> None:
            path = urlsplit(self.path).path
            hub.requests.append(("HEAD" if head else "GET", path))
            hub.wait_if_stalled()
            if hub.down:
                self._error(503, "", "Service unavailable", head=head)
                return
            if match := _API_TREE.match(path):
                self._tree(match.group("repo"), unquote(match.group("rev")), match.group("path") or "")
            elif match := _API_INFO.match(path):
                self._info(match.group("repo"), unquote(match.group("rev") or "main"))
            elif match := _RESOLVE.match(path):
                self._resolve(
                    match.group("repo"), unquote(match.group("rev")), unquote(match.group("file")), head
                )
            else:
                self._error(404, "", "Not found", head=head)

        def _lookup(self, repo_id: str, revision: str, *, head: bool = False) -> tuple[HubRepo, str] | None:
            if repo_id in hub.failing:
                self._error(503, "", "Service unavailable", head=head)
                return None
            repo = hub.repo(repo_id)
            if repo is None:
                self._error(404, "RepoNotFound", "Repository not found", head=head)
                return None
            if repo.private:  # anonymous callers cannot tell a private repo from a missing one
                self._error(401, "RepoNotFound", "Repository not found", head=head)
                return None
            commit = repo.commit_for(revision)
            if commit is None:
                self._error(404, "RevisionNotFound", "Invalid rev id: " + revision, head=head)
                return None
            return repo, commit

        def _info(self, repo_id: str, revision: str) -> None:
            found = self._lookup(repo_id, revision)
            if found is not None:
                self._json(200, found[0].info())

        def _tree(self, repo_id: str, revision: str, directory: str) -> None:
            found = self._lookup(repo_id, revision)
            if found is None:
                return
            repo = found[0]
            prefix = directory.strip("/") + "/" if directory.strip("/") else ""
            entries: dict[str, dict[str, Any]] = {}
            for name, content in repo.files.items():
                if not name.startswith(prefix):
                    continue
                rest = name[len(prefix) :]
                if "/" in rest:
                    child = prefix + rest.split("/", 1)[0]
                    entries.setdefault(
                        child, {"type": "directory", "oid": "0" * 40, "size": 0, "path": child}
                    )
                else:
                    entries[name] = {
                        "type": "file",
                        "oid": git_blob_sha(content),
                        "size": len(content),
                        "path": name,
                    }
            if prefix and not entries:
                self._error(404, "EntryNotFound", f"{directory} does not exist on {revision}")
                return
            self._json(200, [entries[key] for key in sorted(entries)])

        def _resolve(self, repo_id: str, revision: str, filename: str, head: bool) -> None:
            found = self._lookup(repo_id, revision, head=head)
            if found is None:
                return
            repo, commit = found
            if repo.gated:
                self._error(403, "GatedRepo", "Access to this model is restricted", head=head)
                return
            content = repo.files.get(filename)
            if content is None:
                self._error(
                    404, "EntryNotFound", f"{filename} does not exist on {revision}", head=head, commit=commit
                )
                return
            body, status, extra = content, 200, dict[str, str]()
            if range_header := self.headers.get("Range"):
                body, status, extra = _byte_range(content, range_header)
            self.send_response(status)
            self.send_header("ETag", f'"{git_blob_sha(content)}"')
            self.send_header("X-Repo-Commit", commit)
            self.send_header("Accept-Ranges", "bytes")
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            if not head:
                for chunk in _chunks(body):
                    self.wfile.write(chunk)

        def _json(self, status: int, document: Any) -> None:
            body = json.dumps(document).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _error(
            self, status: int, code: str, message: str, *, head: bool = False, commit: str = ""
        ) -> None:
            body = json.dumps({"error": message}).encode()
            self.send_response(status)
            if code:
                self.send_header("X-Error-Code", code)
            self.send_header("X-Error-Message", message)
            if commit:
                self.send_header("X-Repo-Commit", commit)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head:
                self.wfile.write(body)

    return Handler


def _byte_range(content: bytes, header: str) -> tuple[bytes, int, dict[str, str]]:
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if match is None:
        return content, 200, {}
    start_text, end_text = match.groups()
    if start_text:
        start = int(start_text)
        end = min(int(end_text), len(content) - 1) if end_text else len(content) - 1
    else:
        start = max(len(content) - int(end_text), 0)
        end = len(content) - 1
    return content[start : end + 1], 206, {"Content-Range": f"bytes {start}-{end}/{len(content)}"}


def _chunks(body: bytes, size: int = 1 << 20) -> Iterator[bytes]:
    for offset in range(0, len(body), size):
        yield body[offset : offset + size]
