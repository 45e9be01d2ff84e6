"""``singaudit init``: a commented starter spec for one model and one data source, validated."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from singaudit.cli._common import EXIT_OK, Debug, _console
from singaudit.errors import SpecError
from singaudit.wording import number

MAX_LISTED_CLASSES = 12  # more classes: "classes: all" with the names in a comment
IMAGES_PER_CLASS = 50  # audited per class when the data has that many


def init(
    model: Annotated[str, typer.Option("--model", help="Classifier 'source:id', e.g. "
                                                       "timm:resnet50.a1_in1k.")],
    data: Annotated[str, typer.Option("--data", help="Images 'source:id' (or a folder), e.g. "
                                                     "hf-dataset:org/name.")],
    spec: Annotated[Path, typer.Argument(help="The spec file to write (refused if it exists).")
                    ] = Path("audit.yaml"),
    joint_space: Annotated[str | None, typer.Option(
        "--joint-space", help="Vision-language space 'source:id' for the semantic checks, e.g. "
                              "open_clip:ViT-B-32@openai.")] = None,
    data_options: Annotated[list[str] | None, typer.Option(
        "--data-option", help="A data source option KEY=VALUE (YAML value), e.g. split=test.")
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Audit name (default: the "
                                                            "model's).")] = None,
    debug: Debug = False,
) -> int:
    """Write a commented, validated audit spec for a model and a data source.

    Examples:

      singaudit init --model timm:resnet50.a1_in1k --data folder:data/val

      singaudit init audits/mine.yaml --model timm:resnet50.a1_in1k
      --data hf-dataset:org/name --data-option split=validation
      --joint-space open_clip:ViT-B-32@openai
    """
    from singaudit.adapters.resolution import spec_id_problems
    from singaudit.io.atomic import atomic_write_text
    from singaudit.runner.plan import plan_text

    if spec.exists():
        raise SpecError(f"{spec} exists; init never overwrites a file: choose another path or "
                        "remove it")
    data = data if ":" in data or not Path(data).expanduser().is_dir() else f"folder:{data}"
    options = _parse_options(data_options or [])
    class_names, counts = _read_classes(data, options)
    text = starter_spec(path=str(spec), model=model, data=data, data_options=options, joint_space=joint_space,
                        class_names=class_names, counts=counts, name=name)
    parsed = plan_text(text, source=str(spec)).spec  # what init writes always validates
    problems = spec_id_problems(parsed)
    if problems:
        raise SpecError(f"{spec} not written: " + "; ".join(problems))
    spec.parent.mkdir(parents=True, exist_ok=True)
    if spec.exists():  # written meanwhile
        raise SpecError(f"{spec} exists; init never overwrites a file")
    atomic_write_text(spec, text)
    _console().print(f"wrote {spec} ({len(class_names) or 'unlabelled'} classes, checks "
                     f"{', '.join(parsed.checks)}); run it with: singaudit run {spec}")
    return EXIT_OK


def _parse_options(pairs: list[str]) -> dict[str, Any]:
    import yaml

    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"--data-option {pair!r} is not KEY=VALUE")
        try:
            options[key.strip()] = yaml.safe_load(value) if value else None
        except yaml.YAMLError:
            raise SpecError(f"--data-option {pair!r}: the value is not a YAML value") from None
    return options


def _read_classes(data: str, options: dict[str, Any]) -> tuple[list[str], dict[int, int]]:
    """The data's class names and images per class (the source lists; nothing is decoded)."""
    from singaudit.adapters.sources import load_data

    source = load_data(data, **options)
    counts = Counter(record.label for record in source.records() if record.label >= 0)
    return list(source.class_names), dict(counts)


def _slug(source_id: str) -> str:
    ident = source_id.partition(":")[2] or source_id.partition(":")[0]
    ident = ident.rstrip("/").rsplit("/", 1)[-1].split("@", 1)[0]
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", ident).strip("-.") or "model"
    return slug if slug[0].isalnum() else f"m{slug}"


def _yaml(value: Any) -> str:
    """A YAML flow value (JSON is YAML)."""
    return json.dumps(value, ensure_ascii=False)


def _tiers_comment(check: str) -> list[str]:
    from singaudit.checks import CHECKS

    check_class = CHECKS.get(check)
    lines = []
    for tier in check_class.default_tiers:
        metric = check_class.metrics.get(tier.metric)
        higher = (tier.higher_is_better if "higher_is_better" in tier.model_fields_set
                  else bool(metric and metric.higher_is_better))  # the metric's own direction
        levels = ", ".join(f"{k} {number(getattr(tier, k))}" for k in ("warn", "fail")
                           if getattr(tier, k) is not None)
        better = "higher" if higher else "lower"
        lines.append(f"    #   {tier.metric} {tier.statistic}: {levels} ({better} is better, "
                     f"{tier.scope})")
    return lines


HEADER = """\
# singaudit audit spec written by `singaudit init` for {model} on {data}.
# Check it without computing: singaudit validate {path}
# Run it:                     singaudit run {path}
# Every key is described by `singaudit schema`.
version: 1
kind: singaudit/audit
name: {name}
description: {description}

models:
  - name: {model_name}
    id: {model_id}
    # expect: pass    # a failing check fails the run (exit 1); fail / none only record it
"""
JOINT_SPACE = """
# The vision-language space that puts words on the null space (class_semantics, concepts).
joint_space:
  id: {joint_space}
"""
TRANSLATOR = """
# T: features -> joint space, fitted on the data's images that the audit does not use.
translator:
  arch: linear
  heldout: 0.2
"""
CHECKS_HEADER = """
# What is measured. A check is judged by tiers (pass / warn / fail); the defaults are listed
# under each; override them with thresholds: [{metric: ..., statistic: ..., warn: ..., fail: ...}].
checks:
"""
FOOTER = """
report:
  formats: [html, json, junit]
  # out: reports/{name}    # the output folder (default; or run --out DIR): results.json and
  #                        # the reports are written there and nowhere else

# Features are cached by model weights and image content: a re-run computes only what changed.
# The cache folder is SINGAUDIT_CACHE, else the platform's cache folder (`singaudit cache ls`);
# cache_dir: PATH keeps it elsewhere.
# cache_dir: .singaudit-cache
device: auto    # cpu, cuda, cuda:N or mps
dtype: float32
batch_size: 64
seed: 0
"""


def starter_spec(*, path: str, model: str, data: str, data_options: dict[str, Any],
                 joint_space: str | None, class_names: list[str], counts: dict[int, int],
                 name: str | None = None) -> str:
    """The text of a commented starter spec (validated by the caller)."""
    model_name = _slug(model)
    audit_name = name or model_name
    labelled = bool(class_names) and bool(counts)
    fewest = min(counts.values()) if counts else 0
    # With a joint space the translator is fitted on images the audit does not use: keep half.
    available = fewest // 2 if joint_space else fewest
    text = HEADER.format(model=model, data=data, path=path, name=_yaml(audit_name),
                         description=_yaml(f"{model} on {data}"), model_name=_yaml(model_name),
                         model_id=_yaml(model))
    if joint_space:
        text += JOINT_SPACE.format(joint_space=_yaml(joint_space))
    lines = ["", "data:", f"  id: {_yaml(data)}"]
    if data_options:
        lines.append(f"  options: {_yaml(data_options)}")
    if labelled and len(class_names) <= MAX_LISTED_CLASSES:
        lines.append(f"  classes: {_yaml(class_names)}")
    elif labelled:
        shown = ", ".join(class_names[:8])
        lines += [f"  # {len(class_names)} classes, from {shown}, ...: list some to audit fewer",
                  "  classes: all"]
    else:
        lines.append("  # the images are unlabelled: checks that need classes are skipped")
    if labelled:
        per_class = max(1, min(IMAGES_PER_CLASS, available))
        lines.append(f"  images_per_class: {per_class}    # the smallest class has {fewest}")
    lines.append("  seed: 0    # which images are sampled")
    text += "\n".join(lines) + "\n"
    if joint_space:
        text += TRANSLATOR
    checks = ["null_invariance"] + (["null_probe"] if labelled else [])
    if joint_space:
        checks += ["translator_fidelity", "class_semantics", "translation_consistency"]
    text += CHECKS_HEADER
    for check in checks:
        text += f"  {check}: {{}}\n" + "".join(f"{line}\n" for line in _tiers_comment(check))
    if joint_space:
        vocabulary = _joint_space_vocabulary(joint_space)
        text += ("  concepts:    # the words nearest to each class's null-space content\n"
                 f"    vocabulary: {vocabulary}\n    top_k: 5\n")
    return text + FOOTER.format(name=audit_name)


def _joint_space_vocabulary(joint_space: str) -> str:
    """The concept vocabulary the joint space's source names for itself, else "default"."""
    from singaudit.adapters.sources import JOINT_SPACE_SOURCES, get_source
    from singaudit.registry import RegistryError

    try:
        found = get_source(JOINT_SPACE_SOURCES, joint_space.partition(":")[0])
    except RegistryError:
        return "default"
    return found.vocabulary or "default"
