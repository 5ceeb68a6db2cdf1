"""The pretraining loop, checkpoints and schedules."""
