"""/agents/inputs: an agent fetches the upstream output files of a run it holds, before
starting it. Least privilege: the agent's own token (bound to its name), only for a run
dispatched to that agent and not ended, its current attempt, and only files of that run's
upstreams in its group run. The command itself never holds a credential."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse

from app.api.deps import bearer_token, get_context
from app.db.engine import session_scope
from app.db.run_results import upstream_outputs
from app.db.tables import Run
from app.domain.states import ON_AGENT
from app.errors import AuthError, NotFound
from app.hub.admission import grant_for
from app.services.outputs import output_store

router = APIRouter(tags=["agents"])


async def fetch_input(request: Request) -> FileResponse:
    """A plain route (no user authentication: the agent's token is checked here), like the
    agents' WebSocket."""
    context = get_context(request)
    try:
        run_id, attempt, upstream_run = (
            int(request.path_params[k]) for k in ("run_id", "attempt", "upstream_run")
        )
    except ValueError:
        raise NotFound("input", request.url.path) from None
    name = str(request.path_params["name"])
    now = context.clock.now()
    grant = await anyio.to_thread.run_sync(grant_for, context.engine, bearer_token(request), now)
    if grant is None or grant.agent_name is None:
        raise AuthError("invalid agent token")

    def find() -> tuple[int, str] | None:
        with session_scope(context.engine) as session:
            run = session.get(Run, run_id)
            if (
                run is None
                or run.agent != grant.agent_name
                or run.attempt != attempt
                or run.status not in ON_AGENT
            ):
                return None
            for item in upstream_outputs(session, run):
                if item.run_id == upstream_run and item.name == name:
                    return item.attempt, item.name
            return None

    found = await anyio.to_thread.run_sync(find)
    if found is None:
        raise NotFound("input", f"{upstream_run}/{name}")
    path = output_store(context).path(upstream_run, found[0], found[1])
    if not path.is_file():
        raise NotFound("input", f"{upstream_run}/{name}")
    return FileResponse(path, media_type="application/octet-stream")


router.add_route(
    "/agents/inputs/{run_id}/{attempt}/{upstream_run}/{name:path}", fetch_input, methods=["GET"]
)
