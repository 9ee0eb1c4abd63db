"""`almanac mcp`: the MCP server (app/mcp_server.py) on stdio with the caller's token, or over
streamable HTTP (`--http`, app/mcp_http.py) where each request brings its own token."""

from __future__ import annotations

import logging
import os
import sys
from typing import Annotated

import typer


def mcp(
    http: Annotated[
        bool,
        typer.Option(
            "--http",
            help="Serve MCP over streamable HTTP at /mcp instead of stdio; each request acts "
            "with its own Authorization: Bearer token.",
        ),
    ] = False,
    host: Annotated[str, typer.Option(help="With --http: address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --http: port to listen on.")] = 8765,
) -> None:
    """Serve Almanac to AI assistants over MCP, with each caller's own token and role.
    stdio: ALMANAC_URL and ALMANAC_TOKEN, as for the other commands. --http: ALMANAC_URL; the
    token comes with each request."""
    from app.client.http import Almanac
    from app.mcp_server import build_server

    if http:
        _serve_http(os.environ.get("ALMANAC_URL") or "http://127.0.0.1:8080", host, port)
        return
    if not os.environ.get("ALMANAC_TOKEN"):
        typer.echo("error: set ALMANAC_TOKEN (and ALMANAC_URL) to your API token", err=True)
        raise typer.Exit(2)
    # stdout carries the protocol: anything we log goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    with Almanac() as api:
        build_server(api).run("stdio")


def _serve_http(server_url: str, host: str, port: int) -> None:
    import uvicorn

    from app.mcp_http import PATH, http_app

    typer.echo(f"MCP for {server_url} at http://{host}:{port}{PATH}", err=True)
    uvicorn.run(http_app(server_url, host), host=host, port=port, log_level="warning")


def register(cli: typer.Typer) -> None:
    cli.command("mcp")(mcp)
