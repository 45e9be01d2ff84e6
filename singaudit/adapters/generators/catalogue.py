"""The built-in generator source (``unclip:``): its loader and its offline check of an id.
Importing this module imports no model library."""

from __future__ import annotations

from typing import Any

from singaudit.adapters.resolution import hub_repo_problem
from singaudit.adapters.sources import Source


class UnclipSource(Source):
    """``unclip:<repo or folder>``: a diffusers UnCLIP pipeline."""

    name = "unclip"
    loader = "singaudit.adapters.generators.unclip_source:load"

    def problem(self, ident: str, options: dict[str, Any]) -> str | None:
        return hub_repo_problem(ident, "UnCLIP pipeline")


UNCLIP = UnclipSource()
