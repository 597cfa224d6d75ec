"""The Dagster wiring: the definitions, and the Dagster side of a run the build service starts.

location.py    the code location from settings: assets, checks, automation, resource, executor
asset_keys.py  the asset keys (the one place that spells them) and op names
assets.py      the factory: one spec -> one multi-asset step (render, pixel art, bevy) + the manifest
resources.py   SpritePipelineResource: folders, cache, claims, backends for a run
executors.py   in-process or Celery executor (SPRITES_EXECUTOR); celery_app.py: the workers' app
automation/    spec sensor, rebuild schedule, failure sensor, asset checks, declarative conditions
launch.py      the in-process path: one Dagster run against the project's instance
instance.py    opening the instance; Dagster's record of a run's cancellation
publishing.py  after a run whose manifest step did not run: publish what it exported
pool_storage.py, pool_storage_postgres.py  the instance storage dagster.yaml selects: Dagster's, with
               concurrency-pool claims atomic between processes (SQLite; PostgreSQL)
"""
