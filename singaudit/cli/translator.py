"""``singaudit translator fit|eval``: a spec's translator, fitted and saved or evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, cast

import typer

from singaudit.cli._common import (
    EXIT_OK,
    CacheOpt,
    DataOpt,
    Debug,
    DeviceOpt,
    SetOpt,
    _console,
    _overrides,
)
from singaudit.errors import SpecError
from singaudit.io.console import plain as _plain
from singaudit.wording import significant

if TYPE_CHECKING:
    from singaudit.maths.translators import Translator
    from singaudit.runner import ArtefactBuilder

translator_app = typer.Typer(help="Fit or evaluate a spec's translator.", no_args_is_help=True)


def _spec_artefacts(spec_path: Path, model: str | None, data: str | None, device: str | None,
                    sets: list[str] | None, cache_dir: Path | None
                    ) -> tuple[ArtefactBuilder, str]:
    from singaudit.runner import ArtefactBuilder, ArtefactStore
    from singaudit.runner.plan import load_plan

    spec = load_plan(spec_path, _overrides(data, device, None, sets)).spec
    names = [m.name for m in spec.models]
    if model is None and len(names) > 1:  # never a silent pick of the first model
        raise SpecError(f"{spec_path} has {len(names)} models; choose one with --model "
                        f"({', '.join(names)})")
    name = model or names[0]
    if name not in set(names):
        raise SpecError(f"{spec_path}: no model named {name!r}; models: "
                        f"{', '.join(m.name for m in spec.models)}")
    store = ArtefactStore(cache_dir=cache_dir, device=device, progress=True)
    return ArtefactBuilder(spec, store), name


@translator_app.command("fit")
def translator_fit(
    spec: Annotated[Path, typer.Argument(help="Audit spec declaring the translator.")],
    out: Annotated[Path, typer.Option("--out", help="Folder to save the translator to.")],
    model: Annotated[str | None, typer.Option(
        "--model", help="Model name in the spec (needed when it has several).")] = None,
    data: DataOpt = None,
    device: DeviceOpt = None,
    sets: SetOpt = None,
    cache_dir: CacheOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Replace a translator in --out.")] = False,
    debug: Debug = False,
) -> int:
    """Fit (or take from the cache) a model's translator and save it.

    Examples:

      singaudit translator fit audits/demo.yaml --model leaky --out translators/leaky

      singaudit translator eval audits/demo.yaml --model leaky --path translators/leaky
    """
    from singaudit.pipeline.translator_store import save_translator

    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise SpecError(f"--out {out} already exists and is not empty; choose another folder or "
                        "pass --force to replace the translator in it")
    artefacts, name = _spec_artefacts(spec, model, data, device, sets, cache_dir)
    artefact = artefacts.translator(name)
    # The runner types its module loosely; a spec's translator is always a maths Translator.
    save_translator(out, cast("Translator", artefact.module), {k: v for k, v in artefact.info.items()
                                           if k not in ("architecture", "in_dim", "out_dim")})
    _print_fidelity(artefact.info)
    _console().print(f"translator of {_plain(name)} saved to {_plain(out)}")
    return EXIT_OK


@translator_app.command("eval")
def translator_eval(
    spec: Annotated[Path, typer.Argument(help="Audit spec declaring the translator.")],
    model: Annotated[str | None, typer.Option("--model", help="Model name in the spec.")] = None,
    path: Annotated[Path | None, typer.Option("--path", help="A saved translator.")] = None,
    data: DataOpt = None,
    device: DeviceOpt = None,
    sets: SetOpt = None,
    cache_dir: CacheOpt = None,
    debug: Debug = False,
) -> int:
    """Held-out fidelity (mean cosine, MSE, R^2) of a spec's translator or a saved one."""
    import torch

    from singaudit.maths.translators import fidelity

    artefacts, name = _spec_artefacts(spec, model, data, device, sets, cache_dir)
    if path is None:
        _print_fidelity(artefacts.translator(name).info)
        return EXIT_OK
    saved = artefacts.translator_from_file(path, name)
    _, _, x_heldout, y_heldout = artefacts.translator_fit_data(name)
    with torch.inference_mode():
        scores = fidelity(saved.module(x_heldout), y_heldout)
    _print_fidelity({"architecture": saved.info.get("architecture"), **scores,
                     "n_heldout": len(x_heldout), "source": str(path)})
    return EXIT_OK


def _print_fidelity(info: dict[str, Any]) -> None:
    keys = ("architecture", "alpha", "mean_cosine", "mse", "r2", "n_train", "n_heldout", "source")
    _console().print(_plain("  ".join(f"{k}={_short(info[k])}" for k in keys if k in info)))


def _short(value: object) -> str:
    return significant(value) if isinstance(value, float) else str(value)
