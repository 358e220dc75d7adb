"""Adaptation: latent similarity mining and co-optimization rounds.

- ``config.AdaptConfig`` (presets ``tiny`` / ``cpu`` / ``gpu``)
- ``job.adapt(project, cfg, *, source) -> Job[AdaptResult]``, ``job.SourceBundle``
- ``rounds``: the stages of one round; ``selection``: label-free round signals and stopping
- ``restore.restore_round(project, index)``: a pruned round's probability maps made again
- ``inversion`` / ``synthesis`` / ``crops`` (generative core): DDIM inversion, target decoding

Importing this package does not import torch; the heavy work happens inside the jobs.
"""

from vessel_studio.adaptation.config import AdaptConfig
from vessel_studio.adaptation.job import AdaptResult, SourceBundle, adapt
from vessel_studio.adaptation.restore import RestoreResult, restore_round, restore_round_job
from vessel_studio.adaptation.selection import confidence_stats, dice_agreement, round_signals, should_stop

__all__ = [
    "AdaptConfig",
    "AdaptResult",
    "SourceBundle",
    "adapt",
    "RestoreResult",
    "restore_round",
    "restore_round_job",
    "confidence_stats",
    "dice_agreement",
    "round_signals",
    "should_stop",
]
