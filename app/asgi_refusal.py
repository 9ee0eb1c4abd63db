"""A 401 answered straight from an ASGI guard, before the app behind it sees the request (the
API docs' login and the MCP HTTP endpoint)."""

from __future__ import annotations

import json

from starlette.types import Send


async def send_unauthorized(send: Send, detail: str, challenge: bytes = b"Bearer") -> None:
    body = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", challenge),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
