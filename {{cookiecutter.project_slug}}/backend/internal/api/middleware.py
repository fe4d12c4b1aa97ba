"""The API's edge, one pure ASGI layer on every request: request ids, security headers, the body
size limit and JSON 500s.

Pure ASGI (not Starlette's BaseHTTPMiddleware), so that a body is counted while it streams in and
an oversized one is refused without being held in memory, and so that an unexpected exception ends
in a complete JSON response with the connection still open. One layer, because each costs every
request a call and a wrapped `send` (a tenth of the time of a `/health` request for two layers).

It wraps CORS (when origins are configured), so that CORS preflights get the request id and the
security headers; its own answers (413, 500) go through the same CORS on their way out, so that
browsers may read them.
"""

from __future__ import annotations

import logging
import random
import re
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
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


def new_request_id() -> str:
    """32 random hex digits, like `uuid4().hex`: unique, not secret, so they come from `random`
    (reseeded in forked children) instead of a getrandom() system call per request."""
    return random.getrandbits(128).to_bytes(16).hex()


class RequestTooLarge(HTTPException):
    """The body passed the limit while it streamed in. An HTTPException, so FastAPI's body reading
    lets it through to the 413 handler (internal.errors) instead of calling it a parse error."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            status_code=413, detail=f"The request body is larger than the limit of {max_bytes} bytes."
        )


def read_headers(scope: Scope) -> tuple[bytes, bytes, bool]:
    """The request's X-Request-ID and Content-Length (b"" if absent) and whether it has a
    Transfer-Encoding, in one pass over its headers."""
    given, declared, encoded = b"", b"", False
    for key, value in scope["headers"]:
        if key == b"content-length":
            declared = declared or bytes(value)
        elif key == REQUEST_ID_HEADER_BYTES:
            given = given or bytes(value)
        elif key == b"transfer-encoding":
            encoded = True
    return given, declared, encoded


def with_security_headers(headers: list[tuple[bytes, bytes]], request_id: tuple[bytes, bytes]) -> list[Any]:
    """`headers` with the security headers the route did not set itself (usually it sets none)."""
    for name, _ in headers:
        if name.lower() in SECURITY_HEADER_NAMES:
            names = {name.lower() for name, _ in headers}
            return [*headers, *(item for item in SECURITY_HEADERS if item[0] not in names), request_id]
    return [*headers, *SECURITY_HEADERS, request_id]


class ApiEdge:
    """What every HTTP request passes on its way in and out.

    - Request ids: each request gets one (the client's X-Request-ID if it is a plain token), in
      ``scope["state"]["request_id"]`` and on the response, with the security headers: routes,
      errors, CORS preflights and 413s alike.
    - Body limit: a body over ``max_bytes`` (MAX_REQUEST_BYTES) is refused with 413. A declared
      Content-Length over the limit before a byte of the body is read; a chunked body as soon as
      the running count passes the limit. The app never holds more than the limit plus one chunk.
    - JSON 500s: an exception a route lets escape becomes ``{"detail", "request_id"}`` with status
      500, logged with the request id; the client sees nothing internal. It is not re-raised, so
      the server completes the response and keeps the connection open.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, cors_options: dict[str, Any] | None = None) -> None:
        """`cors_options`: CORSMiddleware's arguments, or None for no CORS at all."""
        self.cors_options = cors_options
        self.app = self.with_cors(app)
        self.max_bytes = max_bytes

    def with_cors(self, app: ASGIApp) -> ASGIApp:
        return app if self.cors_options is None else CORSMiddleware(app, **self.cors_options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # lifespan and websockets pass through
            await self.app(scope, receive, send)
            return
        given, declared, encoded = read_headers(scope)
        plain = given.decode("latin-1")
        request_id = plain if plain and CLIENT_REQUEST_ID.fullmatch(plain) else new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        request_id_header = (REQUEST_ID_HEADER_BYTES, request_id.encode())
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = with_security_headers(message.get("headers", []), request_id_header)
            await send(message)

        if declared and (not declared.isdigit() or int(declared) > self.max_bytes):
            refusal = RequestTooLarge(self.max_bytes)
            await self.answer(
                scope, receive, send_with_headers, refusal.status_code, {"detail": refusal.detail}
            )
            return
        # Without a Transfer-Encoding the server's framing ends the body at the declared length, and
        # a request with neither header has no body (HTTP/2 refuses a body that disagrees with its
        # length): nothing to count, the app reads the body directly.
        app_receive = self.counting(receive) if encoded else receive
        try:
            await self.app(scope, app_receive, send_with_headers)
        except Exception:
            where = {"request_id": request_id, "method": scope["method"], "path": scope["path"]}
            log.exception("unhandled error", extra=where)
            if started:  # the response is half sent: nothing more can be said on this connection
                raise
            detail = "Internal server error; quote the request id when reporting it."
            await self.answer(
                scope, receive, send_with_headers, 500, {"detail": detail, "request_id": request_id}
            )

    async def answer(
        self, scope: Scope, receive: Receive, send: Send, status: int, body: dict[str, Any]
    ) -> None:
        """Our own JSON answer, through CORS as the app's answers go."""
        await self.with_cors(JSONResponse(body, status_code=status))(scope, receive, send)

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
