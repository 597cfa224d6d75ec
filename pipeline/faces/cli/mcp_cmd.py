"""``sprites mcp``: serve the MCP server over stdio (for agents) or streamable HTTP (for editors and tools)."""

from __future__ import annotations

import sys
from typing import Any

import click
from starlette.middleware import Middleware

from pipeline.faces.cli.options import project_options, settings_from, user_errors
from pipeline.faces.cli.settings_options import settings_options

__all__ = ["mcp_cmd"]


@click.command("mcp")
@click.option("--http", "use_http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="HTTP address (other than loopback needs a token)."
)
@click.option("--port", default=8765, show_default=True, type=int, help="HTTP port.")
@click.option("--no-prewarm", is_flag=True, help="Do not import Dagster until the first run.")
@project_options
@settings_options("dagster_url")
@user_errors
def mcp_cmd(use_http: bool, host: str, port: int, no_prewarm: bool, **kwargs: Any) -> None:
    """Serve sprites over MCP: agents generate, view and materialize sprites on demand.

    \b
    stdio (default): for agents that start the server themselves (Claude Desktop, Claude Code...).
    --http: streamable HTTP at http://HOST:PORT/mcp, bearer token from SPRITES_MCP_TOKEN (on loopback a
    random one is made and printed when it is unset; other addresses refuse to start without it).
    Runs go through a running `sprites dev` webserver when there is one, else in-process; same instance.
    """
    settings = settings_from(kwargs)
    from pipeline.defs.instance import ensure_dagster_home
    from pipeline.faces.mcp.auth import TOKEN_ENV, BearerToken, RejectedAuthAudit, resolve_token
    from pipeline.faces.mcp.server import create_server
    from pipeline.service import BuildService

    token = None
    generated = False
    if use_http:
        token, generated = resolve_token(host, settings.mcp_token.get_secret_value() if settings.mcp_token else None)
    ensure_dagster_home(settings)
    service = BuildService(settings, dagster_url=settings.dagster_url)
    server = create_server(service)
    if not no_prewarm:
        service.prewarm()
    try:
        if use_http:
            server.auth = BearerToken(token or "")
            if generated:
                click.echo(f"{TOKEN_ENV} was not set; this server's bearer token: {token}", err=True)
            click.echo(f"sprites MCP on http://{host}:{port}/mcp (project {settings.project_dir})", err=True)
            audit = settings.state_dir / "mcp-audit.jsonl"
            server.run(
                transport="http",
                host=host,
                port=port,
                show_banner=False,
                middleware=[Middleware(RejectedAuthAudit, audit_file=audit)],
            )
        else:
            server.run(transport="stdio", show_banner=False)
    finally:
        service.wait_all(timeout=30)
    sys.exit(0)
