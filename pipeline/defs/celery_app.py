"""The Celery app the workers run for ``SPRITES_EXECUTOR=celery``: ``celery -A pipeline.defs.celery_app worker``.

The same app dagster-celery's own ``dagster-celery worker start`` builds (its ``execute_plan`` task, queue
``dagster``), configured from ``SPRITES_CELERY_BROKER`` / ``SPRITES_CELERY_BACKEND`` so that workers and
the executor (``pipeline.defs.executors``) cannot disagree. This module is an entry point (like
``definitions.py``): it reads the environment when a worker imports it.

Start each worker where the project's folders, the same ``SPRITES_*`` variables and the Dagster instance
are visible, with ``--prefetch-multiplier=1`` (a worker must not hoard sprite steps another one could
start) and ``-Q dagster``; ``--concurrency`` is how many sprite steps it runs at once.
"""

from __future__ import annotations

from dagster_celery.executor import CeleryExecutor
from dagster_celery.make_app import make_app
from dagster_celery.tasks import create_task

from pipeline.errors import ConfigError
from pipeline.settings import Settings

__all__ = ["app", "execute_plan"]

_settings = Settings.from_env()
if not _settings.celery_broker:
    raise ConfigError("a Celery worker needs SPRITES_CELERY_BROKER (e.g. redis://127.0.0.1:6379/0)")
app = make_app(CeleryExecutor.for_cli(**_settings.celery_config()).app_args())
execute_plan = create_task(app)
