"""A Hugging Face model card updated from an audit: ``model-index`` entries through
``huggingface_hub``'s ``ModelCard``/``EvalResult`` and a short section between markers.

Only two parts of the card change: the front matter's ``model-index`` block (entries whose
source is singaudit are replaced, every other entry is kept) and the text between
``<!-- singaudit:start -->`` and ``<!-- singaudit:end -->`` (appended when absent). Every other
byte of the card, front matter comments included, stays as it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from singaudit.errors import MissingDependency, SingauditError
from singaudit.integrations._results import read_results
from singaudit.results import AuditResult, ModelResult

SOURCE_NAME = "singaudit"
METRIC_PREFIX = "singaudit/"  # singaudit's entries are known by their metric type
START, END = "<!-- singaudit:start -->", "<!-- singaudit:end -->"
TASK = "image-classification"
_TOP_LEVEL_KEY = re.compile(r"^[^\s#\-][^:]*:")


@dataclass(frozen=True)
class CardUpdate:
    path: Path
    model: str
    entries: int  # singaudit's model-index entries written
    created: bool  # the card did not exist


def update_card(results: str | Path, card: str | Path, *, model: str | None = None,
                report_url: str | None = None) -> CardUpdate:
    """Write or update the model card at ``card`` from the audit in ``results``."""
    from singaudit.io.atomic import atomic_write_text

    audit = read_results(results)
    chosen = _model(audit, model)
    path = Path(card).expanduser()
    try:
        original = path.read_text(encoding="utf-8") if path.exists() else ""
    except (OSError, UnicodeDecodeError) as error:
        raise SingauditError(f"cannot read the model card {path}: {error}") from None
    entries = eval_results(audit, chosen, report_url)
    text = _with_model_index(original, chosen.name, entries, path)
    text = _with_section(text, section(audit, chosen, report_url))
    _read_back(text, len(entries), path)
    atomic_write_text(path, text)
    return CardUpdate(path, chosen.name, len(entries), created=not original)


def _model(audit: AuditResult, name: str | None) -> ModelResult:
    names = [m.name for m in audit.models]
    if name is None:
        if len(audit.models) != 1:
            raise SingauditError(f"the audit has {len(names)} models ({', '.join(names)}); "
                                 "choose one with --model NAME")
        return audit.models[0]
    for model in audit.models:
        if model.name == name:
            return model
    raise SingauditError(f"no model {name!r} in the audit; models: {', '.join(names)}")


def _hub():
    try:
        from huggingface_hub import EvalResult, ModelCard
        from huggingface_hub.repocard_data import eval_results_to_model_index
    except ImportError:
        raise MissingDependency("model cards need huggingface_hub: pip install "
                                "'singaudit[integrations]'") from None
    return EvalResult, ModelCard, eval_results_to_model_index


def _dataset(audit: AuditResult) -> tuple[str, str]:
    """(type, name) of the audited data: a hub dataset's id, else the singaudit source id."""
    data_id = str((audit.provenance.get("data") or {}).get("id") or "unknown")
    source, _, ident = data_id.partition(":")
    if source == "hf-dataset" and ident.count("/") == 1 and not Path(ident).exists():
        return ident, ident
    return data_id, data_id


def eval_results(audit: AuditResult, model: ModelResult, report_url: str | None) -> list:
    """One EvalResult per judged metric of each check (metric type ``singaudit/check/metric``)."""
    EvalResult, _, _ = _hub()
    dataset_type, dataset_name = _dataset(audit)
    found = []
    for check in model.checks:
        for name, metric in check.metrics.items():
            if metric.tiers is None or metric.value is None:
                continue  # headline figures only: what the tiers judge
            statistic = f" ({metric.statistic})" if metric.statistic else ""
            found.append(EvalResult(
                task_type=TASK, dataset_type=dataset_type, dataset_name=dataset_name,
                metric_type=f"{METRIC_PREFIX}{check.name}/{name}", metric_value=metric.value,
                metric_name=f"{check.name} {name}{statistic}: {metric.status or check.status}",
                # huggingface_hub takes a source only with its URL
                source_name=SOURCE_NAME if report_url else None, source_url=report_url))
    return found


def _ours(entry) -> bool:
    return str(entry.metric_type).startswith(METRIC_PREFIX)


def _split(text: str) -> tuple[str, str, str, str]:
    """(opening ---, front matter, closing ---, body); empty front matter when there is none."""
    from huggingface_hub.repocard import REGEX_YAML_BLOCK

    match = REGEX_YAML_BLOCK.search(text)
    if match is None:
        return "", "", "", text
    return match.group(1), match.group(2), match.group(3), text[match.end():]


def _with_model_index(text: str, model_name: str, entries: list, path: Path) -> str:
    """``text`` with its model-index block replaced (or added); nothing else changes."""
    import yaml

    _, ModelCard, to_model_index = _hub()
    opening, front, closing, body = _split(text)
    kept = []
    if front:
        try:
            card = ModelCard(text, ignore_metadata_errors=True)
        except (ValueError, yaml.YAMLError) as error:
            raise SingauditError(f"{path}: its front matter is not valid YAML: {error}") from None
        kept = [e for e in (card.data.eval_results or []) if not _ours(e)]
        model_name = card.data.model_name or model_name
    block = yaml.safe_dump({"model-index": to_model_index(model_name, kept + entries)},
                           sort_keys=False, allow_unicode=True, width=100).rstrip("\n")
    if not front and not opening:
        return f"---\n{block}\n---\n{text}"
    lines = front.split("\n")
    start = next((i for i, line in enumerate(lines) if line.startswith("model-index:")), None)
    if start is None:
        lines.append(block)
    else:
        end = next((i for i in range(start + 1, len(lines)) if _TOP_LEVEL_KEY.match(lines[i])),
                   len(lines))
        lines[start:end] = [block]
    return f"{opening}{chr(10).join(lines)}{closing}{body}"


def section(audit: AuditResult, model: ModelResult, report_url: str | None) -> str:
    """The human section: the verdict, one line per check, where the report is."""
    verdict = {"pass": "passed", "warn": "passed with warnings", "fail": "failed"}.get(
        model.status, model.status)
    dataset_type, _ = _dataset(audit)
    passed = sum(check.status == "pass" for check in model.checks)
    headline = (f"**{model.name}** {verdict} the singaudit audit `{audit.name}` on "
                f"`{dataset_type}` ({passed} of {len(model.checks)} checks passed).")
    lines = [START, "## Null-space audit (singaudit)", "", headline, "",
             "| check | status | |", "|---|---|---|"]
    for check in model.checks:
        message = check.message.split(";")[0].replace("|", "\\|").replace("\n", " ")[:120]
        lines.append(f"| {check.name} | {check.status} | {message} |")
    spec = (audit.provenance.get("spec") or {}).get("sha256")
    lines += [""]
    if report_url:
        lines.append(f"Full report: [{report_url}]({report_url})")
    if spec:
        lines.append(f"Audit spec sha256: `{spec[:16]}`")
    lines.append(END)
    return "\n".join(lines)


def _with_section(text: str, new_section: str) -> str:
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        return text[:start] + new_section + text[end + len(END):]
    separator = "" if text.endswith("\n\n") else ("\n" if text.endswith("\n") else "\n\n")
    return f"{text}{separator}{new_section}\n"


def _read_back(text: str, expected: int, path: Path) -> None:
    """The written card must load with huggingface_hub and hold singaudit's entries."""
    _, ModelCard, _ = _hub()
    try:
        card = ModelCard(text, ignore_metadata_errors=True)
    except ValueError as error:
        raise SingauditError(f"{path}: the updated card does not load ({error}); not "
                             "written") from None
    ours = [e for e in card.data.eval_results or [] if _ours(e)]
    if len(ours) != expected:
        raise SingauditError(f"{path}: the updated card holds {len(ours)} singaudit entries, "
                             f"not {expected}; not written")
