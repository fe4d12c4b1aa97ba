"""Pure ASGI middleware on every request: body size limit, request ids, security headers, JSON 500s.

Pure ASGI (not Starlette's BaseHTTPMiddleware), so that a body is counted while it streams in and
an oversized one is refused without being held in memory, and so that an unexpected exception ends
in a complete JSON response with the connection still open.

Two layers, as few as the order allows: the request id and the security headers outside CORS (so
that preflights get them), the JSON 500s and the body limit inside it (so that those answers get
CORS headers). Each layer costs every request a call and a wrapped `send`.
"""

from __future__ import annotations

import json
import logging
import random
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)

REQUEST_ID_HEADER = "x-request-id"
REQUEST_ID_HEADER_BYTES = REQUEST_ID_HEADER.encode()
# A client's X-Request-ID is kept when it is a plain token; anything else is replaced by our own.
CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
)
SECURITY_HEADER_NAMES = frozenset(name for name, _ in SECURITY_HEADERS)


async def send_json(send: Send, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def new_request_id() -> str:
    """32 random hex digits, like `uuid4().hex`: unique, not secret, so they come from `random`
    (reseeded in forked children) instead of a getrandom() system call per request."""
    return f"{random.getrandbits(128):032x}"


def header(scope: Scope, name: bytes) -> bytes:
    """The first value of request header `name` (lower case), or b"": cheaper than a dict of all."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


def request_id_of(scope: Scope) -> str:
    request_id: str = scope.get("state", {}).get("request_id", "")
    return request_id


class RequestIdAndSecurityHeaders:
    """Give each request an id (the client's X-Request-ID if it is a plain token) and put it, with
    the security headers, on every response: routes, errors, CORS preflights and 413s alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets pass through
            await self.app(scope, receive, send)
            return
        given = header(scope, REQUEST_ID_HEADER_BYTES).decode("latin-1")
        request_id = given if given and CLIENT_REQUEST_ID.fullmatch(given) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_header = (REQUEST_ID_HEADER_BYTES, request_id.encode())

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                names = {name.lower() for name, _ in headers}
                # A route may set its own security headers; usually it sets none and all are added.
                added = (
                    SECURITY_HEADERS
                    if names.isdisjoint(SECURITY_HEADER_NAMES)
                    else [item for item in SECURITY_HEADERS if item[0] not in names]
                )
                message["headers"] = [*headers, *added, request_id_header]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class RequestTooLarge(HTTPException):
    """The body passed the limit while it streamed in. An HTTPException, so FastAPI's body reading
    lets it through to the 413 handler (internal.errors) instead of calling it a parse error."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status_code=413, detail=f"The request body is larger than the limit of {max_bytes} bytes."
        )


def body_framing(scope: Scope) -> tuple[bytes, bool]:
    """The request's Content-Length (b"" if none) and whether it has a Transfer-Encoding: one pass."""
    declared, encoded = b"", False
    for key, value in scope["headers"]:
        if key == b"content-length" and not declared:
            declared = bytes(value)
        elif key == b"transfer-encoding":
            encoded = True
    return declared, encoded


class JsonErrorsAndBodyLimit:
    """Refuse a request body over ``max_bytes`` with 413 (MAX_REQUEST_BYTES), and turn any exception
    a route lets escape into ``{"detail", "request_id"}`` with status 500.

    A declared Content-Length over the limit is refused before a byte of the body is read; a
    chunked body as soon as the running count passes the limit. The app never holds more than the
    limit plus one chunk, whatever the client sends.

    An unexpected exception is logged with the request id; the client sees nothing internal. It is
    not re-raised, so the server completes the response and keeps the connection open.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets pass through
            await self.app(scope, receive, send)
            return
        declared, encoded = body_framing(scope)
        if declared and (not declared.isdigit() or int(declared) > self.max_bytes):
            refusal = RequestTooLarge(self.max_bytes)
            await send_json(send, refusal.status_code, {"detail": refusal.detail})
            return
        # Without a Transfer-Encoding the server's framing ends the body at the declared length, and
        # a request with neither header has no body (HTTP/2 refuses a body that disagrees with its
        # length): nothing to count, the app reads the body directly.
        app_receive = self.counting(receive) if encoded else receive
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, app_receive, tracking_send)
        except Exception:
            request_id = request_id_of(scope)
            where = {"request_id": request_id, "method": scope["method"], "path": scope["path"]}
            log.exception("unhandled error", extra=where)
            if started:  # the response is half sent: nothing more can be said on this connection
                raise
            detail = "Internal server error; quote the request id when reporting it."
            await send_json(send, 500, {"detail": detail, "request_id": request_id})

    def counting(self, receive: Receive) -> Receive:
        """`receive`, raising RequestTooLarge once the body received so far passes the limit."""
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestTooLarge(self.max_bytes)
            return message

        return counting_receive
