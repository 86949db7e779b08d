"""The run config: one flat, JSON-serialisable dict describing a model and how to train it.

Study files build these dicts (so they can be logged as MLflow params and stored by Optuna);
`resolve_config` fills in the defaults and rejects anything malformed, so a typo in a search
space fails the first trial with one clear line instead of silently training the default.
"""

from __future__ import annotations

import difflib
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sweeper.errors import SweeperError

FamilyName = Literal["mlp", "rnn-window", "rnn-seq"]
FAMILIES: tuple[FamilyName, ...] = ("mlp", "rnn-window", "rnn-seq")
SEQUENCE_BATCH_SIZE = 16  # rnn-seq batches count utterances, not frames


class ConfigError(SweeperError):
    """A run config has an unknown key or a value out of range.

    `unknown` and `invalid` name the offending keys (a value out of range or of the wrong type).
    """

    def __init__(
        self, message: str, unknown: tuple[str, ...] = (), invalid: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.unknown = unknown
        self.invalid = invalid


class RunConfig(BaseModel):
    """Every key a run config may hold, with its default."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # the model
    family: FamilyName = "mlp"
    n: int = Field(11, ge=1, description="frames per window (odd): the centre and k either side")
    layers: int = Field(3, ge=1, description="mlp blocks, or stacked RNN layers")
    hidden: int = Field(512, ge=1, description="block width, or RNN hidden size per direction")
    dropout: float = Field(0.25, ge=0, lt=1)
    taper: float = Field(1.0, gt=0, le=1, description="mlp: block i is hidden * taper**i wide")
    cell: Literal["lstm", "gru"] = "lstm"
    bidirectional: bool = True
    pool: Literal["centre", "last"] = Field("centre", description="rnn-window: step to classify")
    head_layers: int = Field(1, ge=0, description="rnn: hidden blocks between RNN and output")
    conv_channels: int = Field(0, ge=0, description="rnn-seq: Conv1d front-end width; 0 = none")
    conv_kernel: int = Field(5, ge=1, description="rnn-seq: Conv1d kernel size (odd)")
    length_buckets: bool = Field(
        True, description="rnn-seq: batch utterances of similar length (less padding)"
    )
    # the training
    epochs: int = Field(10, ge=1)
    batch_size: int = Field(
        512, ge=1, description=f"frames per batch (rnn-seq: utterances, {SEQUENCE_BATCH_SIZE})"
    )
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.01, ge=0, description="AdamW's default, as in the course code")
    optimizer: Literal["adamw", "adam", "sgd"] = "adamw"
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd only")
    scheduler: Literal["none", "cosine", "warm_restarts", "onecycle"] = "none"
    t0: int = Field(2, ge=1, description="warm_restarts: epochs in the first cycle")
    t_mult: int = Field(2, ge=1, description="warm_restarts: growth of each later cycle")
    clip: float = Field(0.0, ge=0, description="max gradient norm; 0 = no clipping")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    class_weighted: bool = Field(False, description="weight the loss by inverse class frequency")
    patience: int = Field(0, ge=0, description="stop after this many epochs without a new best")
    seed: int = 0
    amp: Literal["auto", "none", "bf16", "fp16"] = Field(
        "auto", description="autocast dtype on CUDA; auto: bf16 where the GPU has it natively"
    )

    @model_validator(mode="before")
    @classmethod
    def _sequence_batch_size(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("family") == "rnn-seq" and "batch_size" not in data:
            return {**data, "batch_size": SEQUENCE_BATCH_SIZE}
        return data

    @field_validator("n", "conv_kernel")
    @classmethod
    def _odd(cls, value: int) -> int:
        if value % 2 == 0:
            raise ValueError("must be odd, so the window has a centre frame")
        return value


DEFAULTS: dict[str, Any] = RunConfig().model_dump()


def resolve_config(config: dict[str, Any] | RunConfig) -> RunConfig:
    """The validated config with defaults filled in; ConfigError names every bad key."""
    if isinstance(config, RunConfig):
        return config
    try:
        return RunConfig.model_validate(config)
    except ValidationError as exc:
        errors = exc.errors()
        keys = [(_key(e), e["type"] == "extra_forbidden") for e in errors]
        raise ConfigError(
            "config: " + "; ".join(_describe(e) for e in errors),
            unknown=tuple(key for key, unknown in keys if unknown),
            invalid=tuple(key for key, unknown in keys if not unknown),
        ) from None


def _key(error: Any) -> str:
    return ".".join(str(part) for part in error["loc"]) or "(config)"


def _describe(error: Any) -> str:
    key = _key(error)
    if error["type"] == "extra_forbidden":
        close = difflib.get_close_matches(key, RunConfig.model_fields, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return f"unknown key {key!r}{hint}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{key}={error['input']!r}: {message}"
