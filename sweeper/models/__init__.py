"""Model families built from a plain config dict, and parameter counting / matching."""

from sweeper.models.config import DEFAULTS, FAMILIES, ConfigError, RunConfig, resolve_config
from sweeper.models.family import Family, build_model, family_of
from sweeper.models.sizing import count_parameters, match_width

__all__ = [
    "DEFAULTS",
    "FAMILIES",
    "ConfigError",
    "Family",
    "RunConfig",
    "build_model",
    "count_parameters",
    "family_of",
    "match_width",
    "resolve_config",
]
