"""``singaudit card``: write or update a Hugging Face model card from an audit's results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from singaudit.cli._common import EXIT_OK, Debug, _console


def card(
    results: Annotated[Path, typer.Argument(help="results.json, or the output folder "
                                                 "holding it.")],
    card_path: Annotated[Path, typer.Option("--card", help="The model card to write or "
                                                           "update.")] = Path("README.md"),
    model: Annotated[str | None, typer.Option(
        "--model", help="The audited model the card is for (needed when the audit has "
                        "several).")] = None,
    report_url: Annotated[str | None, typer.Option(
        "--report-url", help="Where the report is published (linked from the card).")] = None,
    debug: Debug = False,
) -> int:
    """Write or update a Hugging Face model card: model-index entries and a short section.

    Only the card's model-index entries from singaudit and the section between its
    singaudit markers change; the rest of the card is left as it is.

    Examples:

      singaudit card reports/demo --card README.md --model clean

      singaudit card reports/resnet50/results.json --report-url https://example.org/report.html
    """
    from singaudit.integrations.model_card import update_card

    done = update_card(results, card_path, model=model, report_url=report_url)
    verb = "wrote" if done.created else "updated"
    _console().print(f"{verb} {done.path}: {done.entries} model-index entries for {done.model}")
    return EXIT_OK
