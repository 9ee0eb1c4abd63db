"""Headers on every answer that keep a browser from misusing the pages: no framing
(clickjacking), no content sniffing, no caching of pages and API answers (they carry run
output and names), and a Content-Security-Policy that runs only the app's own scripts.

The pages load every script from /static (no inline script, no event-handler attributes, no
`hx-on`, so htmx needs no eval); a few `style="..."` attributes and htmx's indicator styles
need inline styles, which cannot run code. The API's Swagger page (`/api/v1/docs`) loads its
script from a CDN and starts it inline: it gets no CSP, the other headers still apply.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_ALWAYS = {
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, docs_path: str, static_prefix: str = "/static/") -> None:
        self.app = app
        self.docs_path = docs_path
        self.static_prefix = static_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _ALWAYS.items():
                    headers.setdefault(name, value)
                if not path.startswith(self.static_prefix):  # assets may be cached
                    headers.setdefault("cache-control", "no-store")
                if path != self.docs_path:
                    headers.setdefault("content-security-policy", CSP)
            await send(message)

        await self.app(scope, receive, with_headers)
