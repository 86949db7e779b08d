"""Every MLflow call: a study's parent run and its trials' runs, artifacts (the trial checkpoint
store), promotion runs, the model registry's champion, the store's health, and the log of trials
that could not be recorded while the store was away.

Imports MLflow and torch; never Optuna (an import contract checks it): what it needs of a study
comes in as plain values.
"""
