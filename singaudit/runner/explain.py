"""The paper's single-image analysis: IS, and AS toward the top classes and a vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from singaudit.adapters.data._images import read_image
from singaudit.errors import DataError
from singaudit.runner.artefacts import ArtefactBuilder
from singaudit.runner.memo import ArtefactStore
from singaudit.spec.models import AuditSpec


@dataclass
class Explanation:
    image: str
    model: str
    joint_space: str
    image_score: float  # IS, degrees
    null_energy: float  # ||P_n f|| / ||f||
    top_classes: list[dict[str, Any]]  # name, probability, as
    concepts: list[dict[str, Any]]  # concept, as, z (AS relative to the vocabulary)
    translator: dict[str, Any]
    evidence: list[str] = field(default_factory=list)  # written image files
    null_reference: str = "zero"  # what null removal left in the null space, in words


def explain_image(
    image_path: str | Path,
    *,
    model: str,
    joint: str,
    translator_path: str | None = None,
    fit_data: str | None = None,
    fit_images_per_class: int | None = None,
    concepts: list[str] | None = None,
    top: int = 5,
    generator: str | None = None,
    seeds: tuple[int, ...] = (0,),
    out_dir: str | Path | None = None,
    device: str | None = None,
    cache_dir: str | Path | None = None,
    store: ArtefactStore | None = None,
    null_removal: str = "mean",
) -> Explanation:
    """Analyse one image; the translator is loaded (``translator_path``) or fitted on ``fit_data``.
    ``null_removal`` as the spec key: "mean" uses the fit images' mean when there are any."""
    from singaudit.maths.equivalence import NULL_REMOVALS, remove_null
    from singaudit.maths.scores import concept_attribute_scores, image_score

    if null_removal not in NULL_REMOVALS:
        raise DataError(f"null removal must be one of {', '.join(NULL_REMOVALS)}, "
                        f"not {null_removal!r}")
    if translator_path is None and fit_data is None:
        raise DataError("explain needs a translator: --translator PATH or --fit-data SOURCE:ID")
    picture = read_image(image_path)  # upright (EXIF), regular files only, DataError otherwise
    translator: dict[str, Any] = {"arch": "linear"}
    if translator_path is not None:
        translator["path"] = str(translator_path)
    else:
        translator["fit"] = {"id": fit_data, "images_per_class": fit_images_per_class}
    spec = AuditSpec.model_validate({
        "version": 1, "kind": "singaudit/audit", "name": "explain",
        "models": [{"name": "model", "id": model}],
        "joint_space": {"id": joint},
        "data": {"id": fit_data or "photos:"},
        "translator": translator,
        "checks": {"null_invariance": {}},
        **({"generator": {"id": generator, "seeds": list(seeds)}} if generator else {}),
    })
    store = store or ArtefactStore(cache_dir=cache_dir, device=device, progress=False)
    run = ArtefactBuilder(spec, store)
    classifier = run.classifier("model")
    run.joint_space()  # fail early (one clear message) before any computation
    pixels = classifier.preprocessing.transform(picture).unsqueeze(0)
    with torch.inference_mode():
        features = classifier.features(pixels).to("cpu", torch.float32)
        logits = classifier.logits(features)
    geometry = run.geometry("model")
    geometry.require_null_space()
    artefact = run.translator("model")
    chosen = _null_reference(run, geometry, artefact.info,
                             "zero" if null_removal == "zero" else "mean")  # checked above
    reference, described = chosen.vector, chosen.description
    equivalent = remove_null(features, geometry, reference).float()
    with torch.inference_mode():
        t_orig = artefact.module(features).float()
        t_eq = artefact.module(equivalent.float()).float()
    probabilities = logits.softmax(-1)[0]
    top_indices = probabilities.argsort(descending=True)[:top].tolist()
    class_names = classifier.info.class_names
    top_names = [class_names[i] if i < len(class_names) else str(i) for i in top_indices]
    prompt_spec = run.plan.prompts
    class_text = run.text_embeddings([prompt_spec.fill(name)[0] for name in top_names])
    class_as = concept_attribute_scores(t_orig, t_eq, class_text)[0].tolist()
    vocabulary = concepts or list(dict.fromkeys(class_names))
    concept_rows: list[dict[str, Any]] = []
    if vocabulary:
        text = run.text_embeddings([prompt_spec.fill(c)[0] for c in vocabulary])
        scores = concept_attribute_scores(t_orig, t_eq, text)[0]
        spread = float(scores.std()) if len(vocabulary) > 1 else 0.0
        z = (scores - scores.mean()) / spread if spread > 0 else torch.zeros_like(scores)
        order = z.abs().argsort(descending=True)[:top].tolist()
        space = run.joint_space()
        concept_rows = [{"concept": vocabulary[i], "as": float(scores[i]), "z": float(z[i]),
                         # words the text tower maps to its unknown token: a score of nothing
                         "unknown_words": space.unknown_words(vocabulary[i])}
                        for i in order]
    energy = geometry.null_energy(features)
    explanation = Explanation(
        image=str(image_path), model=model, joint_space=joint,
        image_score=float(image_score(t_orig, t_eq)[0]),
        null_energy=float(energy[0]),
        top_classes=[{"name": n, "probability": float(probabilities[i]), "as": float(a)}
                     for n, i, a in zip(top_names, top_indices, class_as, strict=True)],
        concepts=concept_rows,
        translator={k: v for k, v in artefact.info.items()
                    if k not in ("row_cosines", "curve", "null_reference")},
        null_reference=described,
    )
    if generator is not None:
        explanation.evidence = _render_evidence(run, t_orig, t_eq, seeds, out_dir)
    return explanation


def _null_reference(run: ArtefactBuilder, geometry: Any, info: dict[str, Any],
                    removal: Literal["zero", "mean"]) -> Any:
    """The audits' null-reference policy (maths.equivalence.choose_null_reference): the fit mean
    recorded with the translator, else its fit images' mean; one image gives no mean of its own,
    so without either the reference is zero (and said so)."""
    from singaudit.maths.equivalence import choose_null_reference

    def fit_rows() -> torch.Tensor | None:
        try:
            return run.translator_fit_data("model")[0]
        except DataError:  # a loaded translator and no unaudited images to take a mean from
            return None

    return choose_null_reference(removal, geometry, recorded=info.get("null_reference"),
                                 fit_rows=fit_rows)


def _render_evidence(run: ArtefactBuilder, t_orig: torch.Tensor, t_eq: torch.Tensor,
                     seeds: tuple[int, ...], out_dir: str | Path | None) -> list[str]:
    from singaudit.maths.scores import rescale_to_reference

    generator, config = run.generator(), run.spec.generator
    assert generator is not None and config is not None  # explain asked for one
    folder = Path(out_dir or "explain")
    folder.mkdir(parents=True, exist_ok=True)
    rescaled = rescale_to_reference(t_eq, t_orig)
    images = generator.render(torch.cat([t_orig, rescaled]), list(seeds), config.size)
    written = []
    for label, row in zip(("original", "equivalent"), images, strict=True):
        for seed, picture in zip(seeds, row, strict=True):
            path = folder / f"{label}_seed{seed}.png"
            picture.save(path)
            written.append(str(path))
    return written
