"""A sweep, top down: the run plan (`sweeper run`'s options checked), the runner (one command:
workers, the live display, the closing table), the worker (one process's trials), the trial
objective, the search strategy (sampler and pruner), warm start and trial checkpoints.

May import everything below it: analysis (a sweep ends by refreshing its parent run's report),
tracking, process, storage, study, training, models, data. Imported by commands and promote only.
"""
