"""The ``singaudit`` command. Exit codes follow pytest: 0 as expected, 1 a check failed or an
expectation was violated, 2 interrupted, 3 internal error, 4 usage or spec error."""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from singaudit.errors import SingauditError, SpecError
from singaudit.io.console import plain as _plain

EXIT_OK, EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INTERNAL, EXIT_USAGE = 0, 1, 2, 3, 4
STATUS_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "skip": "dim",
                "error": "bold magenta", "info": "cyan", "insufficient_data": "dim"}

app = typer.Typer(
    name="singaudit",
    help="Audit what an image classifier's null space carries (the SING method).",
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
translator_app = typer.Typer(help="Fit or evaluate a spec's translator.", no_args_is_help=True)
cache_app = typer.Typer(help="Inspect or clear the on-disk cache.", no_args_is_help=True)
zoo_app = typer.Typer(help="Train bundled model worlds.", no_args_is_help=True)
zoo_train_app = typer.Typer(help="Train a world.", no_args_is_help=True)
baseline_app = typer.Typer(help="Accept runs into the baseline store.", no_args_is_help=True)
app.add_typer(translator_app, name="translator")
app.add_typer(baseline_app, name="baseline")
app.add_typer(cache_app, name="cache")
app.add_typer(zoo_app, name="zoo")
zoo_app.add_typer(zoo_train_app, name="train")

def _show_version(value: bool) -> None:
    if value:
        from importlib.metadata import PackageNotFoundError, version

        try:
            text = version("singaudit")
        except PackageNotFoundError:
            text = "unknown (not installed)"
        print(f"singaudit {text}")
        raise typer.Exit(0)


@app.callback()
def _main(
    show_version: Annotated[bool, typer.Option(
        "--version", callback=_show_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    """Audit what an image classifier's null space carries (the SING method).

    Start with `singaudit run audits/demo.yaml`; `singaudit COMMAND --help` shows examples.
    """


Debug = Annotated[bool, typer.Option("--debug", help="Show tracebacks.")]
DataOpt = Annotated[str | None, typer.Option("--data", help="Data: 'source:id' or a folder.")]
DeviceOpt = Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda, cuda:N, mps.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="key.path=value (YAML scalar).")]
CacheOpt = Annotated[Path | None, typer.Option("--cache-dir", help="Cache folder.")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine", help="Where forward passes run: local or ray (spec key execution.engine).")]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="Ray cluster to join (implies --engine ray), e.g. ray://head:10001.")]


def _execution_sets(engine: str | None, ray_address: str | None) -> list[str]:
    """--engine / --ray-address as spec overrides (validated with the spec)."""
    sets = []
    if engine is not None or ray_address is not None:
        sets.append(f"execution.engine={engine or 'ray'}")
    if ray_address is not None:
        sets.append(f"execution.address={json.dumps(ray_address)}")
    return sets


def _console(stderr: bool = False):
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Piped output is read by tools and people with wide windows: do not cut tables at 80.
    width = None if stream.isatty() else 160
    return Console(stderr=stderr, highlight=False, soft_wrap=True, width=width)


def _overrides(data, device, out, sets):
    from singaudit.spec import Overrides

    return Overrides(data=data, device=device, out=str(out) if out else None,
                     sets=tuple(sets or ()))


def _load_specs(paths: list[Path], overrides) -> list:
    from singaudit.spec import iter_spec_files, load_spec

    files = iter_spec_files(paths)
    if not files:
        raise SpecError(f"no audit specs in {', '.join(map(str, paths))}")
    return [load_spec(path, overrides) for path in files]


@app.command()
def run(
    specs: Annotated[list[Path], typer.Argument(help="Audit spec files or folders.")],
    data: DataOpt = None,
    device: DeviceOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder.")] = None,
    sets: SetOpt = None,
    templates: Annotated[Path | None, typer.Option("--templates", help="Report templates.")] = None,
    only: Annotated[list[str] | None, typer.Option(
        "--only", help="Models or checks to run (name, glob or model::check).")] = None,
    cache_dir: CacheOpt = None,
    engine: EngineOpt = None,
    ray_address: RayAddressOpt = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Write into a non-empty folder singaudit did not create (its files "
                        "stay).")] = False,
    debug: Debug = False,
) -> int:
    """Run audits and write results.json and the reports.

    Examples:

      singaudit run audits/demo.yaml

      singaudit run audits/ --out reports/ci --set data.images_per_class=10

      singaudit run audits/resnet50.yaml --data /datasets/imagenet/val --device cuda
    """
    from singaudit.runner import AuditSession

    sets = [*_execution_sets(engine, ray_address), *(sets or [])]
    loaded = _load_specs(specs, _overrides(data, device, out, sets))
    _check_only(loaded, only or [])
    targets = _output_targets(loaded, out, force)
    session = AuditSession(cache_dir=cache_dir, device=device, progress=True, debug=debug)
    console = _console()
    codes = []
    for spec, target in zip(loaded, targets, strict=True):
        with _pdf_worker(spec.report.formats) as pdf_worker:  # imports weasyprint meanwhile
            result = session.run(spec, out_dir=target, only=only, force=force)
            _render(spec.report.formats, target, templates, pdf_worker)
        codes.append(_print_summary(console, result, target))
    return max(codes, default=EXIT_OK)


def _output_targets(specs: list, out: Path | None, force: bool) -> list[Path]:
    """Each spec's output folder, checked before anything is computed: usable, singaudit's own
    (or --force), and one per spec (two audits never write into one folder)."""
    from singaudit.runner import output_dir
    from singaudit.runner.outputs import check_output_folder

    targets = [output_dir(spec, (out / spec.name) if out and len(specs) > 1 else out)
               for spec in specs]
    seen: dict[Path, object] = {}
    for spec, target in zip(specs, targets, strict=True):
        key = target.absolute()
        if key in seen:
            raise SpecError(f"{seen[key].source_path} and {spec.source_path} would both write to "
                            f"{target} (audit name {spec.name!r}); give them different names "
                            "or report.out folders")
        seen[key] = spec
        check_output_folder(target, force=force)
    return targets


def _check_only(specs: list, only: list[str]) -> None:
    """Every --only selector must name a model or check of some spec (before anything runs)."""
    from singaudit.runner.audit import selector_matches

    for selector in only:
        if not any(selector_matches(selector, [m.name for m in spec.models], list(spec.checks))
                   for spec in specs):
            models = sorted({m.name for spec in specs for m in spec.models})
            checks = sorted({name for spec in specs for name in spec.checks})
            kind = "model::check" if "::" in selector else "model or check"
            raise SpecError(f"--only {selector} names no {kind} of the audit; models: "
                            f"{', '.join(models)}; checks: {', '.join(checks)}")


def _pdf_worker(formats):
    """A process that renders the PDF on another core (started early), or nothing."""
    import contextlib

    if "pdf" not in formats:
        return contextlib.nullcontext()
    from singaudit.reports.pdf import PdfWorker

    return PdfWorker()


def _render(formats, target: Path, templates: Path | None, pdf_worker=None) -> None:
    """The spec's report formats beside results.json: a spinner on a terminal, a line in a log."""
    import time

    from singaudit.reports import render_reports

    wanted = [f for f in formats if f != "json"]
    if not wanted:
        return
    if sys.stderr.isatty():
        with _console(stderr=True).status(f"rendering {', '.join(wanted)}"):
            render_reports(target / "results.json", wanted, templates, pdf_worker=pdf_worker)
        return
    start = time.perf_counter()
    print(f"rendering {', '.join(wanted)}", file=sys.stderr, flush=True)
    render_reports(target / "results.json", wanted, templates, pdf_worker=pdf_worker)
    print(f"rendered in {time.perf_counter() - start:.1f} s", file=sys.stderr, flush=True)


# pytest's short-summary words (as `pytest -rA`), most severe first.
SUMMARY_WORDS = {"failed": "FAILED", "error": "ERROR", "warned": "WARN",
                 "failed (informational)": "FAILED (informational)", "xfailed": "XFAIL",
                 "skipped": "SKIPPED"}
OUTCOME_STYLE = {"failed": "bold red", "error": "bold magenta", "passed": "green",
                 "warned": "yellow", "skipped": "dim", "xfailed": "yellow",
                 "failed (informational)": "red"}


def exit_code(result) -> int:
    """pytest's rule: a check that raised is an internal error (3) whatever the model's
    expectation; otherwise 1 when an expectation is violated, else 0."""
    if any(check.status == "error" for model in result.models for check in model.checks):
        return EXIT_INTERNAL
    return EXIT_OK if result.ok else EXIT_FAILED


def _report_path(target: Path) -> Path:
    """The file a person opens: the HTML report, else the PDF, else results.json."""
    for name in ("report.html", "report.pdf"):
        if (target / name).is_file():
            return target / name
    return target / "results.json"


def _warn_unrepresentable(console, where: str, unknown: dict, left_out: bool,
                          shown: int = 10) -> None:
    """One line naming each text a joint space cannot represent, with its unknown words."""
    if not unknown:
        return
    named = [f"{_plain(repr(text))} ({_plain(', '.join(words))})"
             for text, words in list(unknown.items())[:shown]]
    more = f" and {len(unknown) - shown} more (in the report)" if len(unknown) > shown else ""
    what = (f"{len(unknown)} concept(s) left out, unknown to the joint space's text tower"
            if left_out else "words unknown to the joint space's text tower, scored anyway "
            "(its angles toward them measure nothing)")
    console.print(f"[yellow]warning[/]: {_plain(where)}: {what}: {', '.join(named)}{more}")


def _print_summary(console, result, target: Path) -> int:
    """pytest's summary for an audit: a model table that fits 80 columns, one short line per
    check that is not a plain pass (skip reasons included), the outcome, the report's path."""
    from rich import box
    from rich.table import Table

    from singaudit.reports.verdicts import check_outcome, outcome_line

    code = exit_code(result)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column in ("model", "expect", "model status", "checks"):
        table.add_column(column, overflow="fold")
    met = {True: " (as expected)", False: " [bold red](NOT as expected)[/]",
           None: " (informational)"}
    for model in result.models:
        style = STATUS_STYLE.get(model.status, "")
        table.add_row(_plain(model.name), model.expect,
                      f"[{style}]{model.status}[/]{met[model.expectation_met]}",
                      _plain(outcome_line([model])))
    console.print(table)
    lines = [
        (list(SUMMARY_WORDS).index(outcome), outcome, f"{model.name}::{check.name}",
         check.message)
        for model in result.models for check in model.checks
        if (outcome := check_outcome(model, check)) in SUMMARY_WORDS
    ]
    if lines:
        console.print("[bold]short summary[/]")
    for _, outcome, where, message in sorted(lines, key=lambda line: line[0]):
        reason = f" - {_plain(message)}" if message else ""
        console.print(f"[{OUTCOME_STYLE[outcome]}]{SUMMARY_WORDS[outcome]}[/] "
                      f"{_plain(where)}{reason}")
    for model in result.models:
        if model.note:
            console.print(f"{_plain(model.name)}: {model.status}, {_plain(model.note)}")
        if model.expectation_met is False:
            console.print(f"[bold red]VIOLATED[/] {_plain(model.name)}: expect: {model.expect} "
                          f"is NOT met (model status {model.status})")
    for model in result.models:
        accuracy = model.info.get("accuracy") or {}
        if accuracy.get("unmatched_classes"):
            console.print(f"[yellow]warning[/]: {_plain(model.name)} has no class named "
                          f"{_plain(', '.join(map(repr, accuracy['unmatched_classes'])))} "
                          "(data and model class names differ: accuracy and prompts may be wrong)")
        if accuracy.get("top1") is not None:
            worst = sorted(accuracy["top1_per_class"].items(), key=lambda item: item[1])[:3]
            console.print(f"{_plain(model.name)}: top-1 accuracy on the audit images "
                          f"{accuracy['top1']:.3f} (lowest: "
                          + ", ".join(f"{_plain(c)} {a:.2f}" for c, a in worst) + ")")
    for model in result.models:
        for check in model.checks:
            _warn_unrepresentable(console, f"{model.name}::{check.name}",
                                  check.data.get("unrepresentable") or {},
                                  left_out=check.name == "concepts")
    for short in result.data_issues.get("short_classes", []):
        console.print(f"[yellow]warning[/]: class {_plain(repr(short['class']))} has "
                      f"{short['images']} image(s), fewer than the {short['requested']} asked for")
    skipped = result.data_issues.get("skipped", 0)
    if skipped:
        console.print(f"{skipped} unreadable image(s) skipped (listed in results.json)")
    verdict = {EXIT_OK: "[green]as expected[/]", EXIT_FAILED: "[bold red]NOT as expected[/]",
               EXIT_INTERNAL: "[bold magenta]internal error in a check[/] (rerun with --debug "
                              "for the traceback)"}[code]
    console.print(f"[bold]{_plain(result.name)}[/]: {_plain(outcome_line(result.models))}; "
                  f"{verdict} (exit {code})")
    console.print(f"report: {_plain(str(_report_path(target)))}")
    return code


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="Audit spec files or folders.")],
    data: DataOpt = None,
    device: DeviceOpt = None,
    sets: SetOpt = None,
    debug: Debug = False,
) -> int:
    """Check audit specs without computing anything.

    Examples:

      singaudit validate audits/demo.yaml

      singaudit validate audits/ --set data.images_per_class=5
    """
    from singaudit.adapters.resolution import spec_id_problems

    failed = False
    for spec in _load_specs(specs, _overrides(data, device, None, sets)):
        problems = spec_id_problems(spec)  # every id resolved offline, no model built
        if problems:
            failed = True
            print(f"singaudit: {spec.source_path}: " + "; ".join(problems), file=sys.stderr)
            continue
        checks = ", ".join(spec.checks)
        models = ", ".join(m.name for m in spec.models)
        _console().print(_plain(f"{spec.source_path}: ok ({spec.name}: models {models}; "
                                f"checks {checks}; every id resolved)"))
    return EXIT_USAGE if failed else EXIT_OK


@app.command()
def schema(
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to a file.")] = None,
) -> int:
    """Print the JSON Schema of audit specs (each check's parameters included)."""
    from singaudit.io.atomic import atomic_write_text
    from singaudit.spec import spec_json_schema

    text = json.dumps(spec_json_schema(), indent=2)
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        atomic_write_text(output, text + "\n")
    return EXIT_OK


@app.command()
def models(pattern: Annotated[str | None, typer.Argument(help="Glob or substring.")] = None) -> int:
    """List model presets (feature dim, classes, null dim).

    Examples:

      singaudit models

      singaudit models 'calibration:*'

      singaudit models 'timm:resnet50*'
    """
    from rich.table import Table

    from singaudit.adapters.classifiers.catalogue import all_presets, list_presets

    console = _console()
    presets = list_presets(pattern)
    if presets:
        table = Table()
        for column in ("name", "id", "features", "classes", "null dim", "top-1", "offline"):
            table.add_column(column)
        for preset in presets:
            table.add_row(preset.name, preset.id, str(preset.feature_dim),
                          str(preset.num_classes), str(preset.null_dim),
                          "" if preset.top1 is None else f"{preset.top1:.1f}",
                          "yes" if preset.offline else "")
        console.print(table)
    if not pattern:
        return EXIT_OK
    # Beyond the presets, the libraries' own model lists (as `timm.list_models(pattern)`).
    found = _library_models(pattern)
    for library, names in found.items():
        shown = ", ".join(names[:MAX_LISTED])
        more = f" ... ({len(names)} in all)" if len(names) > MAX_LISTED else ""
        console.print(_plain(f"{library} ({len(names)}): {shown}{more}"))
    if not presets and not found:
        from singaudit.adapters.resolution import nearest

        pool = [text for p in all_presets() for text in (p.name, p.id)]
        print(f"singaudit: no model preset, timm or open_clip model matches {pattern!r}"
              f"{nearest(pattern.strip('*'), pool)}", file=sys.stderr)
    return EXIT_OK


MAX_LISTED = 30


def _library_models(pattern: str) -> dict[str, list[str]]:
    """``timm:`` and ``open_clip:`` ids matching a glob or substring (libraries not installed are
    left out), from their lists cached per library version (no torch import)."""
    import fnmatch

    from singaudit.adapters.model_lists import open_clip_models, timm_models

    glob = pattern if any(c in pattern for c in "*?[") else f"*{pattern}*"
    source, sep, rest = glob.partition(":")
    found: dict[str, list[str]] = {}
    for library in ("timm", "open_clip"):
        if sep and source.strip("*") not in library:
            continue
        wanted = (rest if sep else glob).lower()
        try:
            if library == "timm":
                names = timm_models()["pretrained"]
            else:
                names = [f"{arch}@{tag}" for arch, tag in open_clip_models()["pretrained"]]
        except ImportError:
            continue
        matches = [f"{library}:{n}" for n in names if fnmatch.fnmatchcase(n.lower(), wanted)]
        if matches:
            found[library] = matches
    return found


def _spec_artefacts(spec_path: Path, model: str | None, data, device, sets, cache_dir):
    from singaudit.runner import ArtefactBuilder, ArtefactStore
    from singaudit.spec import load_spec

    spec = load_spec(spec_path, _overrides(data, device, None, sets))
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
    save_translator(out, artefact.module, {k: v for k, v in artefact.info.items()
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


def _print_fidelity(info: dict) -> None:
    keys = ("architecture", "alpha", "mean_cosine", "mse", "r2", "n_train", "n_heldout", "source")
    _console().print(_plain("  ".join(f"{k}={_short(info[k])}" for k in keys if k in info)))


def _short(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


@app.command()
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
    console.print(f"{_plain(result.image)}: IS {result.image_score:.2f} deg, null energy "
                  f"{result.null_energy:.3f} ({_plain(result.model)} -> "
                  f"{_plain(result.joint_space)}); null reference: {result.null_reference}")
    _print_translator_fidelity(console, result.translator)
    for row in result.top_classes:
        console.print(f"  class {_plain(repr(row['name']))}: p={row['probability']:.3f}  "
                      f"AS {row['as']:+.2f} deg")
    for row in result.concepts:
        unknown = row.get("unknown_words") or []
        flag = (f"  [bold red]UNREPRESENTABLE[/]: {_plain(', '.join(map(repr, unknown)))} "
                "unknown to the joint space's text tower" if unknown else "")
        console.print(f"  concept {_plain(repr(row['concept']))}: AS {row['as']:+.2f} deg "
                      f"(z {row['z']:+.2f}){flag}")
    for path in result.evidence:
        console.print(f"  evidence: {_plain(path)}")
    return EXIT_OK


def _print_translator_fidelity(console, info: dict) -> None:
    """The translator's held-out fidelity, and a warning below translator_fidelity's bounds."""
    from singaudit.checks import CHECKS

    cosine = info.get("mean_cosine")
    if not isinstance(cosine, (int, float)):
        console.print("  translator: no held-out fidelity recorded")
        return
    bounds = {tier.metric: tier for tier in CHECKS.get("translator_fidelity").default_tiers}
    tier = bounds.get("cosine")
    line = (f"  translator: {info.get('architecture', '?')}, held-out mean cosine {cosine:.3f} "
            f"over {info.get('n_heldout', '?')} images")
    if tier is not None and tier.fail is not None and cosine < tier.fail:
        line += (f" [bold red]below the audit's fail bound {tier.fail:g}[/]: the angles below "
                 "are not trustworthy; fit on more (and more similar) images")
    elif tier is not None and tier.warn is not None and cosine < tier.warn:
        line += f" [yellow]below the audit's warn bound {tier.warn:g}[/]: read with care"
    console.print(line)


CacheKindOpt = Annotated[list[str] | None, typer.Option(
    "--kind", help="features, embeddings, text, geometry, translators, checks or figures "
                   "(repeatable).")]
CacheModelOpt = Annotated[str | None, typer.Option(
    "--model", help="Entries of models whose source:id matches this glob or substring.")]
CacheAgeOpt = Annotated[float | None, typer.Option(
    "--older-than", min=0, help="Entries last written more than this many days ago.")]
CACHE_KINDS = ("features", "embeddings", "text", "geometry", "translators", "checks", "figures")


def _selected_items(root: Path, kinds, model, older_than) -> list:
    import fnmatch
    import time

    from singaudit.runner.storage import cache_items

    unknown = [k for k in kinds or () if k not in CACHE_KINDS]
    if unknown:
        raise SpecError(f"--kind {', '.join(unknown)}: choose from {', '.join(CACHE_KINDS)}")
    items = cache_items(root)
    if kinds:
        items = [item for item in items if item.kind in kinds]
    if model:
        glob = model if any(c in model for c in "*?[") else f"*{model}*"
        items = [item for item in items if item.model and fnmatch.fnmatchcase(item.model, glob)]
    if older_than is not None:
        cutoff = time.time() - older_than * 86400
        items = [item for item in items if item.modified < cutoff]
    return items


@cache_app.command("ls")
def cache_ls(
    cache_dir: CacheOpt = None,
    kinds: CacheKindOpt = None,
    model: CacheModelOpt = None,
    older_than: CacheAgeOpt = None,
) -> int:
    """List the cache by model and kind: entries, images, size, last written.

    Examples:

      singaudit cache ls

      singaudit cache ls --model calibration --kind features --older-than 30
    """
    import time

    from rich import box
    from rich.table import Table

    from singaudit.runner.storage import cache_root

    root = cache_root(cache_dir)
    items = _selected_items(root, kinds, model, older_than)
    console = _console()
    groups: dict[tuple[str, str], list] = {}
    for item in items:
        groups.setdefault((item.model or "-", item.kind), []).append(item)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, show_edge=False)
    for column, justify in (("model", "left"), ("kind", "left"), ("entries", "right"),
                            ("images", "right"), ("size", "right"), ("last written", "left")):
        table.add_column(column, justify=justify, overflow="fold")
    for (model_name, kind), members in sorted(groups.items()):
        images = sum(m.images for m in members)
        newest = time.strftime("%Y-%m-%d %H:%M", time.localtime(max(m.modified for m in members)))
        table.add_row(_plain(model_name), kind, str(len(members)), str(images) if images else "",
                      f"{sum(m.size for m in members) / 1e6:.1f} MB", newest)
    console.print(f"cache: {_plain(root)}")
    if groups:
        console.print(table)
    total = sum(item.size for item in items)
    selected = " (selected)" if kinds or model or older_than is not None else ""
    console.print(f"{len(items)} entries, {total / 1e6:.1f} MB{selected}")
    return EXIT_OK


@cache_app.command("clear")
def cache_clear(
    cache_dir: CacheOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    kinds: CacheKindOpt = None,
    model: CacheModelOpt = None,
    older_than: CacheAgeOpt = None,
) -> int:
    """Delete every entry singaudit wrote in the cache (features, embeddings, text, geometry,
    translators, check results, figures), or only those selected by --kind, --model and
    --older-than; other files stay, and a folder that is not a cache is refused.

    Examples:

      singaudit cache clear --yes

      singaudit cache clear --model calibration:leaky --kind features --yes
    """
    from singaudit.runner.storage import cache_root, clear_cache, is_singaudit_cache

    root = cache_root(cache_dir)
    if root.is_dir() and not is_singaudit_cache(root) and any(root.iterdir()):
        clear_cache(root)  # raises: not a singaudit cache
    if kinds or model or older_than is not None:
        return _clear_selected(root, kinds, model, older_than, yes)
    if not yes and not typer.confirm(f"delete the singaudit cache in {root}?"):
        return EXIT_OK
    count, freed = clear_cache(root)
    _console().print(f"cleared {_plain(root)}: {count} entries, {freed / 1e6:.1f} MB")
    return EXIT_OK


def _clear_selected(root: Path, kinds, model, older_than, yes: bool) -> int:
    """Remove only the selected entries (each a file or a folder singaudit wrote)."""
    items = _selected_items(root, kinds, model, older_than)
    if not items:
        _console().print("nothing selected; nothing removed")
        return EXIT_OK
    if not yes and not typer.confirm(f"delete {len(items)} cache entries in {root}?"):
        return EXIT_OK
    removed: dict[str, list[int]] = {}
    for item in items:
        for path in item.paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        counts = removed.setdefault(item.kind, [0, 0])
        counts[0] += 1
        counts[1] += item.size
    said = ", ".join(f"{kind} {count} ({size / 1e6:.1f} MB)"
                     for kind, (count, size) in sorted(removed.items()))
    _console().print(f"removed from {_plain(root)}: {said}")
    return EXIT_OK


@app.command()
def report(
    results: Annotated[Path, typer.Argument(help="A results.json (or its folder).")],
    templates: Annotated[Path | None, typer.Option("--templates", help="Template folder.")] = None,
    formats: Annotated[list[str] | None, typer.Option(
        "--format", help="html, pdf, junit, markdown or json (repeatable; default html, pdf, "
                         "junit).")] = None,
    debug: Debug = False,
) -> int:
    """Re-render reports from results.json without recomputing anything.

    Examples:

      singaudit report reports/demo

      singaudit report reports/demo/results.json --format pdf --format junit
    """
    from singaudit.reports import render_reports

    formats = formats or ["html", "pdf", "junit"]
    with _pdf_worker(formats) as pdf_worker:
        written = render_reports(results, formats, templates, pdf_worker=pdf_worker)
    for fmt, path in written.items():
        note = " (valid; results.json is the JSON report)" if fmt == "json" else ""
        _console().print(f"{fmt}: {_plain(path)}{note}")
    return EXIT_OK


@app.command()
def diff(
    base: Annotated[str, typer.Argument(
        help="The baseline's results.json (or its folder, or an http(s) URL to it).")],
    new: Annotated[str, typer.Argument(
        help="The candidate's results.json (or its folder, or an http(s) URL to it).")],
    formats: Annotated[list[str] | None, typer.Option(
        "--format", help="Also write markdown, html, pdf or json into --out (repeatable).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Folder for the diff files.")] = Path(
        "reports/diff"),
    pairs: Annotated[list[str] | None, typer.Option(
        "--pair", help="BASE_MODEL:NEW_MODEL to compare (default: models of the same name).")
    ] = None,
    spec: Annotated[Path | None, typer.Option(
        "--spec", help="Take the regression tiers from this audit spec.")] = None,
    allow_mismatch: Annotated[bool, typer.Option(
        "--allow-mismatch", help="Compare runs that differ in joint space, prompts, "
        "translator, images or null removal (and list what differs).")] = False,
    report_url: Annotated[str | None, typer.Option(
        "--report-url", help="Link to the full report in the Markdown summary.")] = None,
    debug: Debug = False,
) -> int:
    """Compare a candidate run with a baseline run; exit 1 on a failing regression."""
    from singaudit.errors import SpecError
    from singaudit.regression import compare
    from singaudit.regression.store import read_results
    from singaudit.reports.diff_report import write_diff

    regression = None
    if spec is not None:
        regression = _load_specs([spec], _overrides(None, None, None, None))[0].regression
    model_pairs = None
    if pairs:
        model_pairs = []
        for pair in pairs:
            left, sep, right = pair.partition(":")
            if not sep or not left or not right:
                raise SpecError(f"--pair {pair!r}: write BASE_MODEL:NEW_MODEL")
            model_pairs.append((left, right))
    baseline, candidate = read_results(base), read_results(new)
    result = compare(baseline, candidate, regression, pairs=model_pairs,
                     allow_mismatch=allow_mismatch, base_path=str(base), new_path=str(new))
    console = _console()
    _print_diff(console, result)
    for fmt, path in write_diff(result, baseline, candidate, out, formats or (),
                                report_url=report_url).items():
        console.print(f"{fmt}: {_plain(path)}")
    return EXIT_FAILED if result.failed else EXIT_OK


def _print_diff(console, result) -> None:
    from rich.table import Table

    from singaudit.wording import number

    for mismatch in result.mismatches:
        console.print(f"[yellow]compared despite a difference[/]: {_plain(mismatch.describe())}")
    table = Table(title=f"diff {_plain(result.new.name)} vs baseline {_plain(result.base.name)}:"
                        f" {result.status}", title_justify="left")
    for column in ("model", "check", "metric", "class", "before", "after", "change",
                   "95% interval", "bound", "verdict"):
        table.add_column(column)
    rows = sorted(((model, delta) for model in result.models for delta in model.judged()),
                  key=lambda pair: (pair[1].verdict == "pass", -(pair[1].worse_by or 0)))
    for model, delta in rows:
        interval = "" if delta.interval is None else (
            f"{number(delta.interval[0], True)} to {number(delta.interval[1], True)}")
        style = STATUS_STYLE.get(delta.verdict or "", "")
        table.add_row(_plain(model.new_model), delta.check,
                      f"{delta.metric} {delta.statistic or ''}",
                      "all" if delta.scope == "overall" else _plain(delta.scope),
                      number(delta.before), number(delta.after), number(delta.delta, True),
                      interval, number(delta.bound), f"[{style}]{delta.verdict}[/]")
    console.print(table)
    for model in result.models:
        style = STATUS_STYLE.get(model.status, "")
        failing = f" (failing classes: {', '.join(model.failing_classes)})" if (
            model.failing_classes) else ""
        console.print(f"  {_plain(model.new_model)} [{style}]{model.status}[/]{_plain(failing)}: "
                      f"{_plain(model.message)}")


@baseline_app.command("accept")
def baseline_accept(
    results: Annotated[Path, typer.Argument(help="A run's results.json (or its folder).")],
    store: Annotated[Path, typer.Option("--store", help="The baseline store folder.")] = Path(
        "baselines"),
    name: Annotated[str | None, typer.Option(
        "--name", help="Baseline name (default: the audit's name).")] = None,
    debug: Debug = False,
) -> int:
    """Copy a run (results.json with its provenance) into the baseline store."""
    from singaudit.regression.store import accept

    target = accept(results, store, name)
    _console().print(f"accepted {_plain(results)} as baseline {_plain(target.parent.name)}: "
                     f"{_plain(target)}")
    return EXIT_OK


@zoo_train_app.command("calibration")
def zoo_train_calibration(
    out: Annotated[Path | None, typer.Option("--out", help="Weights folder.")] = None,
    smoke: Annotated[bool, typer.Option("--smoke", help="A seconds-long reduced run.")] = False,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    phases: Annotated[str | None, typer.Option(
        "--phases", help="Comma-separated subset: joint, shape, nuisance, natural, decoder, "
        "evaluate, uncentred, lite0 (default: all). 'uncentred' or 'lite0' alone rebuilds that "
        "world and leaves the others' weights and metadata.json as they are.")] = None,
    debug: Debug = False,
) -> int:
    """Re-train the calibration world (joint space, classifiers, decoder, uncentred and
    real-backbone worlds)."""
    from singaudit.calibration.train import train_calibration
    from singaudit.calibration.zoo import WEIGHTS_DIR

    target = out or WEIGHTS_DIR
    selected = [p.strip() for p in phases.split(",") if p.strip()] if phases else None
    try:
        train_calibration(target, seed=seed, scale="smoke" if smoke else "full",
                          phases=selected, log=_console(stderr=True).print)
    except ValueError as error:  # unknown phase names
        from singaudit.errors import SpecError

        raise SpecError(str(error)) from None
    _console().print(f"calibration world written to {_plain(target)}")
    return EXIT_OK


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, CI cancel) ends a run as Ctrl-C does


@contextmanager
def _sigterm_as_interrupt():
    """While the command runs, SIGTERM unwinds like SIGINT: staging folders are removed and the
    exit code is 2 (only the main thread may install a handler)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cli(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit code instead of exiting."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        with _sigterm_as_interrupt():
            code = app(args=args, prog_name="singaudit", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        print("singaudit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except typer.Exit as exit_:
        if exit_.exit_code == 130:  # typer's translation of KeyboardInterrupt
            print("singaudit: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        return exit_.exit_code
    except SingauditError as error:
        if debug:
            traceback.print_exc()
        print(f"singaudit: {error}", file=sys.stderr)
        return getattr(error, "exit_code", EXIT_USAGE)
    except typer.TyperException as error:  # usage errors: bad option, missing argument
        show = getattr(error, "show", None)
        if show is not None:
            show()
        else:
            print(f"singaudit: {error.format_message()}", file=sys.stderr)
        return EXIT_USAGE
    except Exception as error:  # noqa: BLE001 - the last resort: one line, exit 3
        if debug:
            traceback.print_exc()
        print(f"singaudit: internal error: {type(error).__name__}: {error} "
              "(run again with --debug for the traceback)", file=sys.stderr)
        return EXIT_INTERNAL
    if code == 130:  # typer returns this for a KeyboardInterrupt when not in standalone mode
        print("singaudit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    return code if isinstance(code, int) else EXIT_OK


def main() -> None:
    sys.exit(run_cli())
