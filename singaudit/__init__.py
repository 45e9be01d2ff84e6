"""singaudit: audits of what an image classifier's null space carries (the SING method).

The public Python API, imported on first use (``import singaudit`` stays cheap)::

    import singaudit
    spec = singaudit.load_spec("audits/demo.yaml")
    result = singaudit.run_audit(spec, out_dir="reports/demo")   # results.json + artefacts
    singaudit.render_reports("reports/demo/results.json")        # HTML, PDF, JUnit
    builder = singaudit.ArtefactBuilder(spec)                    # features, translators, ...

Everything else is internal and may change.
"""

from __future__ import annotations

from singaudit.lazy import lazy_exports

__version__ = "0.1.0"

# Public name -> the module that owns it.
_EXPORTS: dict[str, str] = {
    # specs
    "load_spec": "singaudit.spec",
    "parse_spec_text": "singaudit.spec",
    "Overrides": "singaudit.spec",
    "AuditSpec": "singaudit.spec",
    # running
    "run_audit": "singaudit.runner",
    "AuditSession": "singaudit.runner",
    "ArtefactBuilder": "singaudit.runner",
    "ArtefactStore": "singaudit.runner",
    # results and reports
    "AuditResult": "singaudit.results",
    "ModelResult": "singaudit.results",
    "CheckResult": "singaudit.results",
    "Metric": "singaudit.results",
    "Tiers": "singaudit.results",
    "render_reports": "singaudit.reports",
    "report_figure": "singaudit.reports.context",
    # extension points: registries and the base classes their entries implement
    "CHECKS": "singaudit.checks",
    "Check": "singaudit.checks",
    "CheckParams": "singaudit.checks",
    "Measurements": "singaudit.checks",
    "MetricSpec": "singaudit.checks",
    "ModelContext": "singaudit.checks",
    "Observations": "singaudit.checks.thresholds",
    "CLASSIFIER_SOURCES": "singaudit.adapters.sources",
    "JOINT_SPACE_SOURCES": "singaudit.adapters.sources",
    "DATA_SOURCES": "singaudit.adapters.sources",
    "GENERATOR_SOURCES": "singaudit.adapters.sources",
    "Classifier": "singaudit.adapters.classifiers.base",
    "ClassifierInfo": "singaudit.adapters.classifiers.base",
    "Preprocessing": "singaudit.adapters.classifiers.base",
    "ImageSource": "singaudit.adapters.data.base",
    "ImageRecord": "singaudit.adapters.data.base",
    "TRANSLATOR_ARCHITECTURES": "singaudit.pipeline.translators",
    "TranslatorArchitecture": "singaudit.pipeline.translators",
    "CHECK_FIGURES": "singaudit.reports.figures",
    # errors
    "SingauditError": "singaudit.errors",
    "NotApplicable": "singaudit.errors",
}

__all__ = [  # noqa: PLE0604 - the lazily exported names
    "__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
