"""Optional bearer-token authentication and the upload size bound, as ASGI pieces.

With ``service.token`` set, every API call and page needs ``Authorization: Bearer …``;
a browser gets the same token as a ``SameSite=Strict`` cookie from ``/login``, so the
review page's own requests carry it without exposing it to other sites.
"""

from __future__ import annotations

import hmac
import ipaddress
import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "extractor_token"
OPEN_PATHS = ("/login", "/openapi.json", "/healthz")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_ok(expected: str, header: str | None, cookie: str | None) -> bool:
    given = None
    if header and header.lower().startswith("bearer "):
        given = header[7:].strip()
    elif cookie:
        given = cookie
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


async def _json(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}, ensure_ascii=False).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


class _TooLargeError(Exception):
    pass


class UploadLimit:
    """Cuts off a request body past ``limit`` bytes with 413, before it is parsed or stored."""

    SLACK = 64 * 1024
    """Multipart framing around the file (boundaries, headers, small form fields)."""

    def __init__(self, app: ASGIApp, limit: int, setting: str) -> None:
        self.app = app
        self.limit = limit + self.SLACK
        self.setting = setting

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        message = (f"upload is larger than the limit of {self.limit - self.SLACK:,} bytes "
                   f"({self.setting})")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await _json(send, 413, message)
            return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooLargeError
            return msg

        async def watched(msg: Message) -> None:
            nonlocal started
            started = started or msg["type"] == "http.response.start"
            await send(msg)

        try:
            await self.app(scope, counted, watched)
        except _TooLargeError:
            if not started:
                await _json(send, 413, message)


class TokenAuth:
    """Refuses every request without the service token (when one is configured)."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.token is None or scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        header = headers.get(b"authorization", b"").decode("latin-1") or None
        cookie = _cookie(headers.get(b"cookie", b"").decode("latin-1"))
        if token_ok(self.token, header, cookie):
            await self.app(scope, receive, send)
            return
        if scope["path"].startswith("/v1/"):
            await _json(send, 401, "missing or wrong bearer token (Authorization: Bearer <token>)")
            return
        body = _LOGIN.encode()
        await send({"type": "http.response.start", "status": 401,
                    "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def _cookie(raw: str) -> str | None:
    for part in raw.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return None


_LOGIN = """<!doctype html><meta charset="utf-8"><title>extractor: sign in</title>
<style>body{font:15px system-ui,sans-serif;margin:4em auto;max-width:28em}
input{font:inherit;padding:.3em;width:100%;box-sizing:border-box;margin:.5em 0}</style>
<h1>extractor</h1><p>This service needs its access token.</p>
<form method="post" action="/login"><input type="password" name="token" placeholder="token"
autofocus><input type="hidden" name="next" value=""><button>Sign in</button></form>
<script>document.querySelector('[name=next]').value=location.pathname+location.search</script>"""


def login_cookie_header(token: str) -> str:
    return f"{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict"


