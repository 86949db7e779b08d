"""`sweeper promote`: the best trial (or the top K re-ranked over seeds) retrained on the full
split, registered as the champion if better, and its predictions.csv; the servable model.

May import sweep, study, storage, tracking, process, training, models, data.
"""
