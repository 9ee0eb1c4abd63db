"""`almanac mcp`: the MCP server on stdio (app/mcp_server.py), with the caller's token."""

from __future__ import annotations

import logging
import os
import sys

import typer


def mcp() -> None:
    """Serve Almanac to an AI assistant over MCP (stdio), with your own token and role:
    ALMANAC_URL and ALMANAC_TOKEN, as for the other commands."""
    from app.client.http import Almanac
    from app.mcp_server import build_server

    if not os.environ.get("ALMANAC_TOKEN"):
        typer.echo("error: set ALMANAC_TOKEN (and ALMANAC_URL) to your API token", err=True)
        raise typer.Exit(2)
    # stdout carries the protocol: anything we log goes to stderr.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    with Almanac() as api:
        build_server(api).run("stdio")


def register(cli: typer.Typer) -> None:
    cli.command("mcp")(mcp)
