"""The project folder: manifest, target images, rounds, corrected masks, rollback, log.

``Project.create(folder, modality=...)`` / ``Project.open(folder)``; see ``store.project``.
Imports neither torch nor Qt.
"""

from vessel_studio.store.manifest import MODALITIES, SCHEMA_VERSION, STATES, ImageRecord, RoundRecord
from vessel_studio.store.project import Project, ProjectBusyError, UnknownImageError, round_name
from vessel_studio.store.prune import PrunePlan, plan_prune, prune, prune_job

__all__ = [
    "Project",
    "ProjectBusyError",
    "UnknownImageError",
    "ImageRecord",
    "RoundRecord",
    "MODALITIES",
    "STATES",
    "SCHEMA_VERSION",
    "round_name",
    "PrunePlan",
    "plan_prune",
    "prune",
    "prune_job",
]
