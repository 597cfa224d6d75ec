"""The faces: thin ways to reach the build service (``pipeline.service``).

cli/   the ``sprites`` command
mcp/   the MCP server, built by ``create_server(service)``
"""
