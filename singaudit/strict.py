"""The base of every model of what a user writes (spec sections, check parameters): unknown keys
are refused, so that a misspelt key is an error rather than a silent default."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    """A pydantic model that refuses keys it does not declare."""

    model_config = ConfigDict(extra="forbid")
