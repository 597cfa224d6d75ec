"""The pipeline's settings: one typed model (``Settings``) and what is derived from it.

fields.py    how a setting is declared (``setting``) and described (``SettingInfo``); error translation
sections.py  the automation and executor settings (``Settings`` inherits them)
model.py     ``Settings``: every setting, resolved; from the environment, flags or a resource's config
docs.py      the README's configuration table, rendered from the model
"""

from pipeline.settings.fields import SettingInfo
from pipeline.settings.model import SETTINGS, Settings, find_project_dir
from pipeline.settings.sections import AutomationSettings, ExecutorSettings, Mechanism

__all__ = [
    "SETTINGS",
    "AutomationSettings",
    "ExecutorSettings",
    "Mechanism",
    "SettingInfo",
    "Settings",
    "find_project_dir",
]
