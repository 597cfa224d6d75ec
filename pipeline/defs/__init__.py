"""The Dagster wiring: the definitions, and the Dagster side of a run the build service starts.

location.py    the code location from settings: assets, checks, automation, resource, executor
asset_keys.py  the asset keys (the one place that spells them) and op names
assets.py      the factory: one spec -> one multi-asset step (render, pixel art, bevy) + the manifest
resources.py   SpritePipelineResource: folders, cache, claims, backends for a run
executors.py   in-process or Celery executor (SPRITES_EXECUTOR); celery_app.py: the workers' app
automation/    spec sensor, rebuild schedule, failure sensor, asset checks, declarative conditions
launch.py      the in-process path: one Dagster run against the project's instance
"""
