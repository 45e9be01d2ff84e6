"""``singaudit explain``: single-image analysis."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from singaudit.cli._common import EXIT_OK, CacheOpt, Debug, DeviceOpt, _console
from singaudit.io.console import plain as _plain
from singaudit.wording import fixed, number

if TYPE_CHECKING:
    from rich.console import Console


def explain(
    image: Annotated[Path, typer.Argument(help="An image file.")],
    model: Annotated[str, typer.Option("--model", help="Classifier 'source:id'.")],
    joint: Annotated[str, typer.Option("--joint", help="Joint space 'source:id'.")],
    translator: Annotated[str | None, typer.Option("--translator", help="Saved translator.")] = None,
    fit_data: Annotated[str | None, typer.Option(
        "--fit-data", help="Data 'source:id' to fit a linear translator on.")] = None,
    fit_images_per_class: Annotated[int | None, typer.Option(
        "--fit-images-per-class", min=1, help="Cap on fit images per class.")] = None,
    concepts: Annotated[str | None, typer.Option(
        "--concepts", help="Comma-separated concepts (default: the classifier's classes).")] = None,
    top: Annotated[int, typer.Option("--top", min=1)] = 5,
    generator: Annotated[str | None, typer.Option("--generator", help="Evidence generator.")] = None,
    seeds: Annotated[list[int] | None, typer.Option("--seed", help="Generator seeds.")] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Folder for evidence images.")] = None,
    device: DeviceOpt = None,
    cache_dir: CacheOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    null_removal: Annotated[str, typer.Option(
        "--null-removal",
        help="Null reference: mean (the fit images' mean, default) or zero (the paper).")] = "mean",
    debug: Debug = False,
) -> int:
    """Single-image analysis: IS, AS toward the top classes and concepts, evidence.

    Examples:

      singaudit explain photo.png --model calibration:leaky --joint calibration:joint
      --fit-data calibration:validation

      singaudit explain photo.jpg --model timm:resnet50.a1_in1k --joint
      open_clip:ViT-L-14@openai --translator translators/resnet50
    """
    from dataclasses import asdict

    from singaudit.runner.explain import explain_image

    vocabulary = [c.strip() for c in concepts.split(",") if c.strip()] if concepts else None
    result = explain_image(image, model=model, joint=joint, translator_path=translator,
                           fit_data=fit_data, fit_images_per_class=fit_images_per_class,
                           concepts=vocabulary, top=top, generator=generator,
                           seeds=tuple(seeds or (0,)), out_dir=out, device=device,
                           cache_dir=cache_dir, null_removal=null_removal)
    if as_json:
        sys.stdout.write(json.dumps(asdict(result), indent=2) + "\n")
        return EXIT_OK
    console = _console()
    console.print(f"{_plain(result.image)}: IS {fixed(result.image_score)} deg, null energy "
                  f"{fixed(result.null_energy, 3)} ({_plain(result.model)} -> "
                  f"{_plain(result.joint_space)}); null reference: {result.null_reference}")
    _print_translator_fidelity(console, result.translator)
    for row in result.top_classes:
        console.print(f"  class {_plain(repr(row['name']))}: p={fixed(row['probability'], 3)}  "
                      f"AS {fixed(row['as'], signed=True)} deg")
    for row in result.concepts:
        unknown = row.get("unknown_words") or []
        flag = (f"  [bold red]UNREPRESENTABLE[/]: {_plain(', '.join(map(repr, unknown)))} "
                "unknown to the joint space's text tower" if unknown else "")
        console.print(f"  concept {_plain(repr(row['concept']))}: "
                      f"AS {fixed(row['as'], signed=True)} deg (z {fixed(row['z'], signed=True)})"
                      f"{flag}")
    for path in result.evidence:
        console.print(f"  evidence: {_plain(path)}")
    return EXIT_OK


def _print_translator_fidelity(console: Console, info: dict[str, Any]) -> None:
    """The translator's held-out fidelity, and a warning below translator_fidelity's bounds."""
    from singaudit.checks import CHECKS

    cosine = info.get("mean_cosine")
    if not isinstance(cosine, (int, float)):
        console.print("  translator: no held-out fidelity recorded")
        return
    bounds = {tier.metric: tier for tier in CHECKS.get("translator_fidelity").default_tiers}
    tier = bounds.get("cosine")
    line = (f"  translator: {info.get('architecture', '?')}, held-out mean cosine {fixed(cosine, 3)} "
            f"over {info.get('n_heldout', '?')} images")
    if tier is not None and tier.fail is not None and cosine < tier.fail:
        line += (f" [bold red]below the audit's fail bound {number(tier.fail)}[/]: the angles below "
                 "are not trustworthy; fit on more (and more similar) images")
    elif tier is not None and tier.warn is not None and cosine < tier.warn:
        line += f" [yellow]below the audit's warn bound {number(tier.warn)}[/]: read with care"
    console.print(line)
