"""A sweep, top down: the run plan (`sweeper run`'s options checked), the runner (one command:
workers, the live display, the closing table), the worker (one process's trials), the trial
objective, the search strategy (sampler and pruner), warm start and trial checkpoints.

May import everything below it: study, storage, tracking, process, training, models, data.
Imported by commands, promote and analysis only.
"""
