"""Build state: what was built from what, and whether it is still current; and the caches behind it.

    keys.py      stage keys (and the assets' code versions) from a spec and its request
    lockfile.py  sprites.lock: the committed record, one entry per sprite, manifest entry included
    status.py    "is this sprite current, and if not why", from the lock and the Bevy folder only
    plan.py      what a build must do: the sprites not current, whether to publish
    publish.py   the one publish every run ends in: entries -> lock + manifest + .assets.ron
    inputs.py    the input files' hashes and the no-op fast path that caches the status
    hashmemo.py  stat-keyed memo of file hashes; fastpath.py: the no-op check before any import
    cache.py     content-addressed store of stage outputs with verified reads; claims on keys
    cache_remote.py, cache_sync.py  its remote tier (S3 protocol) and bulk push/pull
    stages.py    the three stages of one sprite as plain functions, each keyed and cached
    candidates.py several seeds of a sprite, their renders and the pick

No Dagster import anywhere here. ``.sprites/`` (cache, fast-path record, pending entries) is only a
cache: deleting it at any moment changes nothing a later build writes, except by rebuilding the same
bytes.
"""
