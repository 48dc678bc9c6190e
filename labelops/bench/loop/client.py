"""A member of the simulated team talking to the real API over HTTP.

One keep-alive connection per `Api` (one per thread), token auth, JSON in
and out, and a multipart upload for imports. Any status the caller did not
expect raises `ApiError` with the server's answer: a benchmark that carries
on after a 500 measures nothing.
"""

from __future__ import annotations

import http.client
import json
import secrets
import time
from pathlib import Path

from labelops.bench.processes import HOST

# gunicorn closes a keep-alive connection idle for --keep-alive (30) seconds;
# a team paused through a round reconnects first rather than find it closed
# mid-request (where retrying a submit blindly could submit twice).
IDLE_RECONNECT_SECONDS = 20


class ApiError(RuntimeError):
    def __init__(self, method: str, path: str, status: int, body: bytes):
        self.status, self.body = status, body
        super().__init__(f"{method} {path}: {status} {body[:500].decode(errors='replace')}")


class Api:
    def __init__(self, port: int, token: str, timeout: float = 120):
        self.port, self.timeout = port, timeout
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
        self.used_at = time.monotonic()

    def request(self, method: str, path: str, body: dict | None = None, *, expect=(200, 201),
                raw: bytes | None = None, content_type: str = "application/json"):
        """The decoded JSON answer (None for 204); raises `ApiError` unless the status is in `expect`."""
        payload = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        headers = {**self.headers, **({"Content-Type": content_type} if payload is not None else {})}
        if time.monotonic() - self.used_at > IDLE_RECONNECT_SECONDS:
            self.conn.close()  # http.client opens a new connection on the next request
        try:
            self.conn.request(method, f"/api/v1/{path}", body=payload, headers=headers)
            response = self.conn.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.conn.close()  # reconnects on the next request
            raise
        finally:
            self.used_at = time.monotonic()
        if response.status not in expect:
            raise ApiError(method, path, response.status, data)
        return json.loads(data) if data and response.status != 204 else None

    def status(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        """(status, JSON or None) whatever the status: for callers that branch on it."""
        try:
            return 200, self.request(method, path, body, expect=(200, 201))
        except ApiError as error:
            try:
                return error.status, json.loads(error.body) if error.body else None
            except ValueError:
                return error.status, None

    def get(self, path: str, **kw):
        return self.request("GET", path, **kw)

    def post(self, path: str, body: dict | None = None, **kw):
        return self.request("POST", path, body, **kw)

    def patch(self, path: str, body: dict, **kw):
        return self.request("PATCH", path, body, **kw)

    def upload(self, path: str, file: Path, fields: dict[str, str], *, expect=(202,)):
        """POST `file` as multipart/form-data with `fields` (an import)."""
        boundary = secrets.token_hex(16)
        parts = []
        for name, value in fields.items():
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
                     f"Content-Type: text/csv\r\n\r\n".encode() + file.read_bytes() + b"\r\n")
        parts.append(f"--{boundary}--\r\n".encode())
        return self.request("POST", path, raw=b"".join(parts), expect=expect,
                            content_type=f"multipart/form-data; boundary={boundary}")

    def close(self) -> None:
        self.conn.close()
