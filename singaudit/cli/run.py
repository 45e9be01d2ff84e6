"""``singaudit run``: run audits and write results.json and the reports."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from singaudit.cli._common import (
    EXIT_OK,
    CacheOpt,
    DataOpt,
    Debug,
    DeviceOpt,
    EngineOpt,
    RayAddressOpt,
    SetOpt,
    _console,
    _execution_sets,
    _load_specs,
    _overrides,
    _pdf_worker,
)
from singaudit.cli._summary import _print_summary
from singaudit.errors import SpecError
from singaudit.wording import seconds

if TYPE_CHECKING:
    from collections.abc import Sequence

    from singaudit.spec import AuditSpec


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
    recompute: Annotated[bool, typer.Option(
        "--recompute", help="Compute every check again (cached check results and run records "
                            "are ignored and replaced; features and the like are reused).")] = False,
    no_replay: Annotated[bool, typer.Option(
        "--no-replay", help="Never replay a run record (checks still reuse cached results, "
                            "their verdicts judged again).")] = False,
    mlflow: Annotated[str | None, typer.Option(
        "--mlflow", help="Log the audit as MLflow runs at this tracking URI (or a folder; the "
                         "spec's report.mlflow sets it too).")] = None,
    debug: Debug = False,
) -> int:
    """Run audits and write results.json and the reports.

    Examples:

      singaudit run audits/demo.yaml

      singaudit run audits/ --out reports/ci --set data.images_per_class=10

      singaudit run audits/resnet50.yaml --data /datasets/imagenet/val --device cuda
    """
    from singaudit.cache.figures import figure_cache
    from singaudit.runner import AuditSession

    sets = [*_execution_sets(engine, ray_address), *(sets or [])]
    loaded = _load_specs(specs, _overrides(data, device, out, sets))
    _check_only(loaded, only or [])
    targets = _output_targets(loaded, out, force)
    session = AuditSession(cache_dir=cache_dir, device=device, progress=True, debug=debug,
                           recompute=recompute, replay=not no_replay)
    console = _console()
    codes = []
    for spec, target in zip(loaded, targets, strict=True):
        with _pdf_worker(spec.report.formats) as pdf_worker:  # imports weasyprint meanwhile
            def reports(folder: Path, spec: AuditSpec = spec, pdf_worker: Any = pdf_worker
                        ) -> None:
                with figure_cache(cache_dir or spec.cache_dir):  # figures honour --cache-dir
                    _render(spec.report.formats, folder, templates, pdf_worker)

            # Reports are staged with results.json and published with it, all or nothing.
            result = session.run(spec, out_dir=target, only=only, force=force, reports=reports)
        from singaudit.integrations.mlflow_export import track_audit

        tracked = track_audit(spec.report.mlflow, target, mlflow, spec.source_path)
        if tracked is not None:  # logged after publishing: a failed export loses no result
            print(f"mlflow: {tracked.describe()}", file=sys.stderr)
        codes.append(_print_summary(console, result, target))
    return max(codes, default=EXIT_OK)


def _output_targets(specs: list[AuditSpec], out: Path | None, force: bool) -> list[Path]:
    """Each spec's output folder, checked before anything is computed: usable, singaudit's own
    (or --force), and one per spec (two audits never write into one folder)."""
    from singaudit.runner import output_dir
    from singaudit.runner.outputs import check_output_folder

    targets = [output_dir(spec, (out / spec.name) if out and len(specs) > 1 else out)
               for spec in specs]
    seen: dict[Path, AuditSpec] = {}
    for spec, target in zip(specs, targets, strict=True):
        key = target.absolute()
        if key in seen:
            raise SpecError(f"{seen[key].source_path} and {spec.source_path} would both write to "
                            f"{target} (audit name {spec.name!r}); give them different names "
                            "or report.out folders")
        seen[key] = spec
        check_output_folder(target, force=force)
    return targets


def _check_only(specs: list[AuditSpec], only: list[str]) -> None:
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


def _render(formats: Sequence[str], target: Path, templates: Path | None,
            pdf_worker: Any = None) -> None:
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
    print(f"rendered in {seconds(time.perf_counter() - start)}", file=sys.stderr, flush=True)
