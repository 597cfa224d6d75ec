"""The MCP server: agents and editors ask for sprites; the build service (``pipeline.service``) makes them.

    server.py      create_server(service): the FastMCP server and its tools; deploy.py, resources.py add to it
    operations.py  what the tools do, over the build service: spec writing, results, listings, lineage
    arguments.py   argument types with their constraints      models.py   what tools return
    requests.py    a tool request -> a spec mapping           specfiles.py  writing sprite_specs/mcp/*.yaml
    styles.py      style presets -> spec fields               history.py  what the Dagster instance recorded
    selection.py   Dagster selection strings -> sprites       images.py   PNGs for clients, scaled crisply
    calls.py       threads, errors (project-relative paths), progress, images
    auth.py        bearer token, loopback rule, audit log (tool calls and rejected HTTP requests)

Nothing here is global and nothing is registered at import: ``create_server`` builds a server per service.
"""
