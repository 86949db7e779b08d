"""The process a sweep runs in: stop signals and their deferral, placement of workers on cores
and GPUs, OpenMP's wait policy, peak memory, the libraries' log levels.

Imports: `sweeper.errors`, torch through `sweeper.training.device` (placement); no Optuna, no
MLflow.
"""
