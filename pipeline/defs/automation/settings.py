"""How the pipeline runs on its own under ``dagster dev``: declared in ``pipeline.settings.sections`` (one
model holds every setting; ``Settings`` is an ``AutomationSettings``), re-exported here for the automation."""

from pipeline.settings.sections import AutomationSettings, Mechanism

__all__ = ["AutomationSettings", "Mechanism"]
