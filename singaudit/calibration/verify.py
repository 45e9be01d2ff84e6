"""Ground-truth verification of the calibration classifiers with the SING maths.

Fits an affine ridge translator (features -> joint image embeddings) on training-split scenes
(alpha chosen on validation scenes), then on held-out scenes removes the null component
(f_eq = P_p f) and measures AS toward "an image of a {class}" and an open-vocabulary concept
ranking. The checks engineer's ``singaudit/checks`` do this for real audits; this module is the
world's own acceptance test, run at the end of training and recorded in metadata.json.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from singaudit.calibration import captions, models, scenes
from singaudit.maths.equivalence import NullRemoval
from singaudit.maths.geometry import HeadGeometry, head_geometry
from singaudit.maths.scores import attribute_score, concept_attribute_scores, image_score
from singaudit.maths.translators import AffineTranslator, RidgeAccumulator, fit_ridge

if TYPE_CHECKING:
    from singaudit.calibration.variants import Variant


def concept_vocabulary() -> dict[str, tuple[str, str]]:
    """prompt -> (kind, word): shapes, colours, background patterns and background colours."""
    vocabulary = {}
    for shape in scenes.SHAPES:
        vocabulary[captions.ZERO_SHOT_TEMPLATES["shape"].format(shape)] = ("shape", shape)
    for colour in scenes.COLOURS:
        vocabulary[captions.ZERO_SHOT_TEMPLATES["colour"].format(colour)] = ("colour", colour)
    for pattern in captions.PATTERN_WORDS:
        vocabulary[captions.ZERO_SHOT_TEMPLATES["pattern"].format(pattern)] = ("pattern", pattern)
    for colour in scenes.COLOURS:
        vocabulary[f"an image of a shape on a {colour} background"] = ("background", colour)
    return vocabulary


@torch.no_grad()
def _encode(classifier: models.LinearHeadNet, joint: models.JointModel, images: np.ndarray,
            batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    features, embeddings = [], []
    for start in range(0, len(images), batch):
        x = models.to_tensor(images[start : start + batch])
        features.append(classifier.features(x).double())
        embeddings.append(joint.image(x).double())
    return torch.cat(features), torch.cat(embeddings)


@torch.no_grad()
def _translated_world(classifier: models.LinearHeadNet, joint: models.JointModel, seed: int,
                      n_fit: int, n_validation: int, n_eval: int) -> tuple[
        torch.Tensor, AffineTranslator, float, dict[str, Any], HeadGeometry, torch.Tensor,
        torch.Tensor, scenes.SceneParams]:
    """A ridge translator fitted on ``train`` scenes (alpha on ``validation``), the head's
    geometry and the encoded ``audit`` scenes: what every ground-truth reading starts from."""
    classifier.eval()
    joint.eval()
    # Translator data come from offsets the classifiers' training stream never reached.
    fit_images, _ = scenes.generate("train", seed + 7919, 0, n_fit)
    val_images, _ = scenes.generate("validation", seed, 0, n_validation)
    eval_images, eval_params = scenes.generate("audit", seed, 0, n_eval)
    f_fit, e_fit = _encode(classifier, joint, fit_images)
    f_val, e_val = _encode(classifier, joint, val_images)
    fit = RidgeAccumulator(f_fit.shape[1], e_fit.shape[1]).update(f_fit, e_fit)
    val = RidgeAccumulator(f_fit.shape[1], e_fit.shape[1]).update(f_val, e_val)
    translator, alpha, fit_metrics = fit_ridge(fit, val, dtype=torch.float64)
    geometry = head_geometry(classifier.head.weight.detach().double())
    f_eval, e_eval = _encode(classifier, joint, eval_images)
    return f_fit, translator, alpha, fit_metrics, geometry, f_eval, e_eval, eval_params


@torch.no_grad()
def ground_truth(
    classifier: models.LinearHeadNet,
    joint: models.JointModel,
    *,
    seed: int = 0,
    n_fit: int = 3000,
    n_validation: int = 600,
    n_eval: int = 600,
) -> dict:
    """Signed/absolute class AS medians, IS, and concept ranks for one classifier."""
    (_, translator, alpha, fit_metrics, geometry, f_eval, e_eval,
     eval_params) = _translated_world(classifier, joint, seed, n_fit, n_validation, n_eval)
    f_eq = geometry.project_principal(f_eval)
    t_orig, t_eq = translator(f_eval), translator(f_eq)
    cosine = torch.nn.functional.cosine_similarity(t_orig, e_eval).mean().item()

    class_prompts = [captions.ZERO_SHOT_TEMPLATES["shape"].format(s) for s in scenes.SHAPES]
    class_text = joint.text(torch.as_tensor(captions.tokenize(class_prompts))).double()
    labels = torch.as_tensor(eval_params.shape)
    as_class = attribute_score(t_orig, t_eq, class_text[labels]).numpy()
    is_values = image_score(t_orig, t_eq).numpy()

    vocabulary = concept_vocabulary()
    texts = joint.text(torch.as_tensor(captions.tokenize(list(vocabulary)))).double()
    concept_as = concept_attribute_scores(t_orig, t_eq, texts).numpy()  # (n, concepts)
    kinds = list(vocabulary.values())
    return {
        "rank": geometry.rank,
        "null_dim": geometry.null_dim,
        "translator": {"alpha": alpha, "heldout_r2": fit_metrics["r2"], "eval_cosine": cosine},
        "median_as": float(np.median(as_class)),
        "median_abs_as": float(np.median(np.abs(as_class))),
        "median_neg_as": float(np.median(-as_class)),
        "median_is": float(np.median(is_values)),
        "null_energy_median": float(np.median(geometry.null_energy(f_eval).numpy())),
        "true_attribute_median_as": true_attribute_as(concept_as, kinds, eval_params),
        "concepts_per_class": concept_ranking(concept_as, kinds, eval_params.shape),
    }


def true_attribute_as(concept_as: np.ndarray, kinds: list[tuple[str, str]],
                      params: scenes.SceneParams) -> dict:
    """Median AS toward each image's own shape, colour, pattern and background colour."""
    index = {kind_word: i for i, kind_word in enumerate(kinds)}
    truth = {
        "shape": [scenes.SHAPES[k] for k in params.shape],
        "colour": [scenes.COLOURS[k] for k in params.colour],
        "pattern": [captions.PATTERN_WORDS[k] for k in params.pattern],
        "background": [scenes.COLOURS[k] for k in params.background],
    }
    rows = np.arange(len(concept_as))
    return {
        kind: float(np.median(concept_as[rows, [index[(kind, w)] for w in words]]))
        for kind, words in truth.items()
    }


def concept_ranking(concept_as: np.ndarray, kinds: list[tuple[str, str]],
                    labels: np.ndarray) -> dict:
    """Per class (as SING's class-level analysis): each concept's median AS over the class's
    images, standardised against the whole vocabulary's (z); the most negative z is the concept
    the null component carried most. Reports the top 3 per class and where the class's own
    shape concept ranks."""
    names = [f"{kind}:{word}" for kind, word in kinds]
    per_class, ranks = {}, []
    for label, shape in enumerate(scenes.SHAPES):
        medians = np.median(concept_as[np.asarray(labels) == label], axis=0)
        z = (medians - medians.mean()) / (medians.std() + 1e-12)
        order = np.argsort(z)
        rank = int(np.flatnonzero(order == names.index(f"shape:{shape}"))[0]) + 1
        ranks.append(rank)
        per_class[shape] = {
            "top3": [(names[i], round(float(z[i]), 2)) for i in order[:3]],
            "own_shape_rank": rank,
        }
    # As the concepts check: each image's AS standardised over the vocabulary, mean z per concept.
    per_image_z = (concept_as - concept_as.mean(1, keepdims=True)) / (
        concept_as.std(1, keepdims=True) + 1e-12
    )
    mean_z = per_image_z.mean(0)
    return {
        "overall_top5_by_mean_z": [
            (names[i], round(float(mean_z[i]), 3)) for i in np.argsort(mean_z)[:5]
        ],
        "own_shape_rank_median": float(np.median(ranks)),
        "own_shape_in_top3": float(np.mean(np.asarray(ranks) <= 3)),
        "top3_kinds": _kind_counts(per_class),
        "per_class": per_class,
    }


def _kind_counts(per_class: dict) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in per_class.values():
        for name, _ in entry["top3"]:
            kind = name.split(":")[0]
            counts[kind] = counts.get(kind, 0) + 1
    return counts


# Null references measured for every world: the paper's zero, and the translator-fit mean.
NULL_REMOVALS: tuple[NullRemoval, ...] = ("zero", "mean")
TABLE_METRICS = ("abs_as", "leak", "specific_leak", "prompt_contrast", "is")


@torch.no_grad()
def world_ground_truth(
    classifier: models.LinearHeadNet,
    joint: models.JointModel,
    *,
    seed: int = 0,
    n_fit: int = 3000,
    n_validation: int = 600,
    n_eval: int = 600,
    probe_folds: int = 5,
) -> dict:
    """Every reading of one classifier's null space on held-out ``audit`` scenes: per class and
    overall medians of |AS| (the paper), leak = -AS, the class-specific leak (contrast over
    images) and the contrast over prompts, under both null references, the mean feature's share
    in the null space, and the cross-validated null-space probe (CLIP-free)."""
    from singaudit.maths.equivalence import null_reference, remove_null
    from singaudit.maths.probe import cross_validated_probe, null_coordinates

    (f_fit, translator, alpha, fit_metrics, geometry, f_eval, e_eval,
     eval_params) = _translated_world(classifier, joint, seed, n_fit, n_validation, n_eval)
    t_orig = translator(f_eval)
    labels = np.asarray(eval_params.shape)
    class_prompts = [captions.ZERO_SHOT_TEMPLATES["shape"].format(s) for s in scenes.SHAPES]
    class_text = joint.text(torch.as_tensor(captions.tokenize(class_prompts))).double()
    mean = f_fit.mean(0)
    references = {}
    for removal in NULL_REMOVALS:
        f_eq = remove_null(f_eval, geometry, null_reference(removal, geometry, f_fit))
        references[removal] = leak_table(t_orig, translator(f_eq), class_text, labels)
    probe = cross_validated_probe(
        null_coordinates(f_eval, geometry), labels, folds=probe_folds, seed=seed
    )
    return {
        "rank": geometry.rank,
        "null_dim": geometry.null_dim,
        "translator": {
            "alpha": alpha,
            "heldout_r2": fit_metrics["r2"],
            "eval_cosine": torch.nn.functional.cosine_similarity(t_orig, e_eval).mean().item(),
        },
        "min_feature": float(f_eval.min()),
        "mean_null_fraction": float(
            geometry.project_null(mean[None])[0].norm() / mean.norm().clamp_min(1e-12)
        ),
        "references": references,
        "probe": {
            "accuracy": probe.accuracy,
            "chance": probe.chance,
            "per_class": {
                shape: probe.class_accuracy(k) for k, shape in enumerate(scenes.SHAPES)
            },
        },
    }


def leak_table(t_orig: torch.Tensor, t_eq: torch.Tensor, class_text: torch.Tensor,
               labels: np.ndarray) -> dict:
    """Median |AS|, leak, specific leak, prompt contrast and IS, overall and per class."""
    from singaudit.maths.scores import prompt_contrast, prompt_leaks, specific_leak

    leaks = prompt_leaks(t_orig, t_eq, class_text).numpy()
    own = leaks[np.arange(len(labels)), labels]
    values = {
        "abs_as": np.abs(own),
        "leak": own,
        "specific_leak": specific_leak(leaks, labels),
        "prompt_contrast": prompt_contrast(leaks, labels),
        "is": image_score(t_orig, t_eq).numpy(),
    }

    def medians(rows: np.ndarray) -> dict[str, float]:
        return {name: float(np.nanmedian(np.asarray(v)[rows])) for name, v in values.items()}

    return {
        "overall": medians(np.ones(len(labels), dtype=bool)),
        "per_class": {shape: medians(labels == k) for k, shape in enumerate(scenes.SHAPES)},
    }


@torch.no_grad()
def encoded_world(classifier: models.LinearHeadNet, joint: models.JointModel, *, seed: int = 0,
                  n_fit: int = 3000, n_validation: int = 600, n_eval: int = 600) -> dict:
    """Features and joint embeddings of the fit, validation and audit scenes, the head, the class
    prompts' text embeddings and the audit labels: everything ``variant_ground_truth`` reads,
    encoded once so that many variants of one classifier cost no extra forward pass."""
    classifier.eval()
    joint.eval()
    fit_images, _ = scenes.generate("train", seed + 7919, 0, n_fit)
    val_images, _ = scenes.generate("validation", seed, 0, n_validation)
    eval_images, eval_params = scenes.generate("audit", seed, 0, n_eval)
    encoded = {name: _encode(classifier, joint, images) for name, images in
               (("fit", fit_images), ("validation", val_images), ("audit", eval_images))}
    prompts = [captions.ZERO_SHOT_TEMPLATES["shape"].format(s) for s in scenes.SHAPES]
    return {
        **encoded,
        "weight": classifier.head.weight.detach().double(),
        "bias": classifier.head.bias.detach().double(),
        "texts": joint.text(torch.as_tensor(captions.tokenize(prompts))).double(),
        "labels": np.asarray(eval_params.shape),
    }


@torch.no_grad()
def variant_ground_truth(world: dict, variant: Variant | None = None) -> dict:
    """The verdict's readings of one (variant of a) classifier: per class and overall medians of
    ``carried`` (a null-only ridge translator, angles centred over prompts, contrasted over
    images), ``carried_share`` (the default verdict: carried over the same reading of the audit
    images' own joint embeddings, per class), ``unique`` (the same after removing the row
    space's linear prediction) and the translator's specific leak (mean reference), the logit
    block's variance ratio and the null probe's accuracy. ``variant``: a calibration.variants.Variant or None."""
    from singaudit.calibration.variants import variance_ratio
    from singaudit.maths import null_semantics as ns
    from singaudit.maths.equivalence import null_reference, remove_null
    from singaudit.maths.probe import cross_validated_probe, null_coordinates
    from singaudit.maths.scores import prompt_leaks, specific_leak

    (f_fit, e_fit), (f_val, e_val), (f_eval, e_eval) = (world["fit"], world["validation"],
                                                        world["audit"])
    weight = world["weight"]
    if variant is not None:
        f_fit, f_val, f_eval = (variant.apply(f) for f in (f_fit, f_val, f_eval))
        weight = variant.weight
    geometry = head_geometry(weight)
    labels, texts = world["labels"], world["texts"]
    mean = f_fit.mean(0)
    null, row = geometry.null_basis.numpy(), geometry.principal_basis.numpy()
    z = {k: ns.null_content(f, null, mean.numpy()) for k, f in
         (("fit", f_fit), ("val", f_val), ("audit", f_eval))}
    rows = {k: f.numpy() @ row for k, f in (("fit", f_fit), ("val", f_val), ("audit", f_eval))}
    unique = {k: ns.unique_null_content(z[k], rows[k], z["fit"], rows["fit"]) for k in z}
    values = {}
    for name, content in (("carried", z), ("unique", unique)):
        translator = ns.fit_null_translator(content["fit"], e_fit, content["val"], e_val)
        values[name] = ns.class_evidence(translator(content["audit"]), texts, labels)
    contrast = ns.joint_contrast(e_eval.numpy(), texts, labels)
    values["carried_share"] = ns.share_of_joint_contrast(values["carried"], contrast, labels)[0]
    fit = RidgeAccumulator(f_fit.shape[1], e_fit.shape[1]).update(f_fit, e_fit)
    val = RidgeAccumulator(f_fit.shape[1], e_fit.shape[1]).update(f_val, e_val)
    ridge, _, _ = fit_ridge(fit, val, dtype=torch.float64)
    f_eq = remove_null(f_eval, geometry, null_reference("mean", geometry, f_fit))
    leaks = prompt_leaks(ridge(f_eval), ridge(f_eq), texts)
    values["specific_leak"] = np.asarray(specific_leak(leaks, torch.from_numpy(labels)))
    probe = cross_validated_probe(null_coordinates(f_eval, geometry), labels, folds=5, seed=0)

    def medians(keep: np.ndarray) -> dict[str, float]:
        return {name: float(np.nanmedian(v[keep])) for name, v in values.items()}

    return {
        "variance_ratio": variance_ratio(weight, f_fit),
        "overall": medians(np.ones(len(labels), dtype=bool)),
        "per_class": {shape: medians(labels == k) for k, shape in enumerate(scenes.SHAPES)},
        "values": values,
        "labels": labels,
        "probe": probe.accuracy,
    }
