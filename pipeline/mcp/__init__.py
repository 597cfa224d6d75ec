"""The MCP server: agents and editors ask for sprites; the project's Dagster assets make them.

    server.py      the FastMCP server (``mcp``) and its tools; deploy.py, resources.py add to it
    arguments.py   argument types with their constraints      models.py   what tools return
    requests.py    a tool request -> a spec mapping           specfiles.py  writing sprite_specs/mcp/*.yaml
    service.py     the operations, over buildstate/launch   runs.py     jobs: webserver or in-process runs
    webserver.py   a running Dagster webserver, over GraphQL  history.py  what the Dagster instance recorded
    selection.py   Dagster selection strings -> sprites       images.py   PNGs for clients, scaled crisply
    auth.py        bearer token, loopback rule, audit log

Import ``pipeline.mcp.server`` for the server; this package import itself loads nothing.
"""
