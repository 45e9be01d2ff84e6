"""Translation consistency: does the translator keep the class information of the features?

Two linear probes (logistic regression, seeded, stratified split) predict the class, one from the
principal features P_p f and one from their translations T(P_p f). The translation of an
informative feature should be as informative: the accuracy gap should be small.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field

from singaudit.checks.base import (
    Check,
    CheckParams,
    Measurements,
    MetricSpec,
    ModelContext,
)
from singaudit.checks.class_semantics import equivalent_features, equivalent_translations
from singaudit.checks.thresholds import (
    Observations,
    format_number,
    scalar_metric,
)
from singaudit.errors import NotApplicable
from singaudit.results import ClassResult, Tiers

METRICS: dict[str, MetricSpec] = {
    "accuracy_principal": MetricSpec("probe accuracy on principal features P_p f", unit="",
                                     higher_is_better=True, aggregation="mean"),
    "accuracy_translated": MetricSpec("probe accuracy on translations T(P_p f)", unit="",
                                      higher_is_better=True, aggregation="mean"),
    "gap": MetricSpec("|accuracy_principal - accuracy_translated|", unit="",
                      higher_is_better=False, aggregation="max"),
}


class TranslationConsistencyParams(CheckParams):
    """Probe settings: the held-out share and the inverse regularisation strength."""

    test_fraction: float = Field(0.3, gt=0, lt=1, description="share of images held out")
    regularisation: float = Field(1.0, gt=0, description="LogisticRegression's C")
    max_iter: int = Field(2000, ge=10, description="LogisticRegression's max_iter")


class TranslationConsistencyCheck(Check[TranslationConsistencyParams]):
    """Linear-probe accuracy on principal features versus on their translations."""

    name = "translation_consistency"
    headline = "gap"
    metrics = METRICS
    default_tiers: ClassVar[list[Tiers]] = [
        Tiers(metric="gap", statistic="max", warn=0.05, fail=0.15, scope="overall"),
    ]
    requires_null_space = False

    def measure(self, ctx: ModelContext, params: TranslationConsistencyParams) -> Measurements:
        # lazy: scikit-learn costs ~0.5 s to import, paid only when this check measures
        import torch
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import recall_score
        from sklearn.model_selection import train_test_split
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        all_labels = ctx.labels.cpu().numpy().astype(np.int64)
        labelled = np.flatnonzero(all_labels >= 0)  # unlabelled images (-1) cannot train a probe
        labels = all_labels[labelled]
        counts = np.bincount(labels, minlength=len(ctx.class_names))
        present = counts[counts > 0]
        if len(present) < 2 or present.min() < 2:
            raise NotApplicable("a stratified probe split needs at least 2 classes with at least "
                                f"2 images each (class counts: {present.tolist()})")
        rows = torch.from_numpy(labelled)
        if ctx.geometry.applicable:
            principal = equivalent_features(ctx).features[rows]
            translated = equivalent_translations(ctx).equivalent[rows]
        else:  # no null space: P_p f = f
            principal = ctx.features[rows]
            translated = ctx.translate(ctx.features)[rows]
        indices = np.arange(len(labels))
        test_size = max(params.test_fraction, len(present) / len(labels))
        try:
            train, test = train_test_split(indices, test_size=test_size, stratify=labels,
                                           random_state=ctx.seed)
        except ValueError as error:  # too few images per class for this split
            raise NotApplicable(f"no stratified probe split possible: {error}") from None

        def probe(values: torch.Tensor) -> np.ndarray:
            array = values.detach().cpu().double().numpy()
            model = make_pipeline(
                StandardScaler(),
                LogisticRegression(C=params.regularisation, max_iter=params.max_iter,
                                   random_state=ctx.seed),
            )
            model.fit(array[train], labels[train])
            return model.predict(array[test])

        predicted = {"principal": probe(principal), "translated": probe(translated)}
        accuracy = {k: float(np.mean(v == labels[test])) for k, v in predicted.items()}
        gap = abs(accuracy["principal"] - accuracy["translated"])
        classes = np.flatnonzero(np.bincount(labels[test], minlength=len(ctx.class_names)))
        recalls = {k: recall_score(labels[test], v, labels=classes, average=None,
                                   zero_division=0.0) for k, v in predicted.items()}

        metrics = {f"accuracy_{k}": scalar_metric(v, METRICS[f"accuracy_{k}"])
                   for k, v in accuracy.items()}
        metrics["gap"] = scalar_metric(gap, METRICS["gap"])
        per_class = {
            ctx.class_names[c]: ClassResult(n=int((labels[test] == c).sum()), metrics={
                f"recall_{k}": scalar_metric(recalls[k][row], MetricSpec(
                    f"probe recall on {k} features", unit="", higher_is_better=True))
                for k in recalls})
            for row, c in enumerate(classes)
        }
        observations = {
            "accuracy_principal": Observations.of([accuracy["principal"]]),
            "accuracy_translated": Observations.of([accuracy["translated"]]),
            "gap": Observations.of([gap]),
        }
        summary = (
            f"probe accuracy {format_number(accuracy['principal'])} on P_p f vs "
            f"{format_number(accuracy['translated'])} on T(P_p f) (gap {format_number(gap)}; "
            f"{len(train)} train / {len(test)} test images)"
        )
        return Measurements(
            summary, observations=observations, metrics=metrics, per_class=per_class,
            data={"accuracy": accuracy, "n_train": len(train), "n_test": len(test)},
        )
