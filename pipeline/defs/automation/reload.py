"""Ask a running Dagster webserver to reload a code location (GraphQL ``reloadRepositoryLocation``).

Why this exists: a sensor cannot change the definitions of the process it runs in. New, edited or
deleted spec files mean new or changed assets, and only a reload of the code location makes Dagster
see them. ``dagster dev`` has no file watcher for that; the webserver's reload mutation is the same
thing the UI's "Reload definitions" button does. No Dagster import.
"""

from __future__ import annotations

__all__ = ["RELOAD_MUTATION", "request_reload"]

RELOAD_MUTATION = """
mutation SpritesReload($name: String!) {
  reloadRepositoryLocation(repositoryLocationName: $name) {
    __typename
    ... on WorkspaceLocationEntry { locationOrLoadError { __typename ... on PythonError { message } } }
    ... on ReloadNotSupported { message }
    ... on RepositoryLocationNotFound { message }
    ... on UnauthorizedError { message }
    ... on PythonError { message }
  }
}
"""


def request_reload(url: str, location: str, timeout: float = 5.0) -> str:
    """Ask the webserver at ``url`` to reload ``location``; returns what happened, in words.

    The webserver restarts the code server this very call may come from, so a read timeout is not a
    failure: the reload was accepted and is under way. Connection errors and GraphQL errors are
    reported (as text, for the sensor's skip reason), not raised: the next tick tries again.
    """
    import httpx  # here, not at the top: every in-process build imports this module and never reloads

    try:
        response = httpx.post(
            f"{url}/graphql",
            json={"query": RELOAD_MUTATION, "variables": {"name": location}},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 3.0)),
        )
    except httpx.ReadTimeout:
        return f"asked {url} to reload code location '{location}' (still reloading)"
    except httpx.HTTPError as exc:
        return f"could not reach the Dagster webserver at {url} to reload '{location}': {exc}"
    if response.status_code != 200:
        return f"{url} refused to reload '{location}': HTTP {response.status_code} {response.text[:200]}"
    try:
        result = response.json()["data"]["reloadRepositoryLocation"]
    except (ValueError, KeyError, TypeError):
        return f"{url} answered the reload of '{location}' with {response.text[:200]}"
    kind = result.get("__typename")
    if kind == "WorkspaceLocationEntry":
        loaded = result.get("locationOrLoadError") or {}
        if loaded.get("__typename") == "PythonError":
            return f"reloaded '{location}' but it failed to load: {loaded.get('message', '')[:500]}"
        return f"reloaded code location '{location}' through {url}"
    return f"{url} could not reload '{location}': {kind}: {result.get('message', '')}"
