"""The web UI: server-rendered pages (jinja2 + htmx) with live updates over SSE.

- One module per screen in `routes/`; each page template includes its fragments, and one URL
  serves the page or, for an htmx request (`htmx.HtmxDep`), the fragment. Every view answers
  through `templating.render`, so tests check the template name and context.
- Pages read and change data through the application layer (app/services), called with the
  viewer as the acting user (`calls.Calls`): the same role checks, instance scope,
  validation and audit as the REST API, whose routes call the same services; refusals
  (`calls.ApiError`) are shown on the form field or as a toast. No page queries a table or
  calls the API over HTTP (tests/services/test_services_layering.py).
- Sessions (`auth`): a random cookie token stored hashed as an ApiToken of kind "session",
  HttpOnly, SameSite=Lax, Secure over https; every state-changing request carries the
  session's CSRF token (an HMAC of the cookie, sent by htmx as a header or in the form).
- Live updates: `events` publishes, after each commit, the ids of the runs, logs and agents
  that changed to an in-process bus; each open page holds one SSE stream (`sse`) that turns
  them into fragments (row patches, the run's status, log bytes, the group graph). Streams
  end every few seconds and the browser reconnects with Last-Event-ID, so nothing is lost and
  a server shutdown is not held up. With PostgreSQL, each replica's changes are relayed to
  the others over the change feed (`app/web_relay.py`), so a page sees every change.
"""

from app.web.app import install

__all__ = ["install"]
