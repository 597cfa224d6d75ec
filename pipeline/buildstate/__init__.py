"""Build state: what was built from what, and whether it is still current.

    keys.py      stage keys (and the assets' code versions) from a spec and its request
    lockfile.py  sprites.lock: the committed record, one entry per sprite, manifest entry included
    status.py    "is this sprite current, and if not why", from the lock and the Bevy folder only
    publish.py   the one publish every run ends in: entries -> lock + manifest + .assets.ron
    inputs.py    the input files' hashes and the no-op fast path that caches the status

No Dagster import anywhere here. ``.sprites/`` (cache, fast-path record, pending entries) is only a
cache: deleting it at any moment changes nothing a later build writes, except by rebuilding the same
bytes.
"""
