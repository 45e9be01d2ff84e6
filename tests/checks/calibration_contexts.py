"""ModelContexts over the calibration world's real features, with the offending constructions of
the verdict axioms built in: a constant added to every feature inside the head's null space, and
a consistent relabelling of the classes (head rows, labels and class names permuted together).

Features, labels and joint-space embeddings come from the runner (the shipped models on real
scenes); the translator is refitted (ridge, as the runner's linear arch) on the constructed
features, exactly as an audit of the constructed model would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from world import FeatureClassifier, WorldContext

from singaudit.adapters.joint_spaces.base import JointSpace
from singaudit.calibration.variants import Variant
from singaudit.checks.base import PromptSpec
from singaudit.maths.geometry import head_geometry
from singaudit.maths.translators import RidgeAccumulator, fit_ridge
from singaudit.runner.artefacts import ArtefactBuilder
from singaudit.runner.session import AuditSession
from singaudit.spec import parse_spec_text

SPEC = """
version: 1
kind: singaudit/audit
name: axioms
models: [{{name: {model}, id: "calibration:{model}"}}]
joint_space: {{id: "calibration:joint"}}
data:
  id: "calibration:audit"
  options: {{scenes: {scenes}}}
  images_per_class: {per_class}
translator:
  fit: {{id: "calibration:validation", options: {{scenes: {fit_scenes}}}}}
checks: {{class_semantics: {{}}}}
"""


@dataclass
class Extracted:
    """One calibration model's artefacts, as the runner computed them."""

    name: str
    weight: torch.Tensor
    bias: torch.Tensor
    features: torch.Tensor
    labels: torch.Tensor
    class_names: list[str]
    embeddings: torch.Tensor
    fit: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]
    joint_space: JointSpace


def extract(model: str, cache_dir: Path, per_class: int = 20, fit_per_class: int = 100
            ) -> Extracted:
    spec = parse_spec_text(SPEC.format(model=model, per_class=per_class, scenes=6 * per_class,
                                       fit_scenes=6 * fit_per_class))
    run = ArtefactBuilder(spec, AuditSession(cache_dir=cache_dir, progress=False))
    selection = run.audit_images
    weight, bias = run.classifier(model).head()
    return Extracted(model, weight.float(), bias.float(),
                     run.classifier_features(model, selection).float(),
                     torch.tensor(selection.labels, dtype=torch.int64),
                     list(selection.class_names), run.image_embeddings(selection).float(),
                     tuple(t.float() for t in run.translator_fit_data(model)),
                     run.joint_space())


def context(world: Extracted, tmp_path: Path, *, shift: torch.Tensor | None = None,
            permutation: list[int] | None = None, null_removal: str = "mean",
            variant: Variant | None = None) -> WorldContext:
    """The model with ``shift`` added to every feature (audit and translator-fit images), and/or
    classes renamed: class k becomes class ``permutation[k]`` in the head, labels and names, and/or
    seen through a calibration ``variant`` (its feature map on every feature row, its head)."""
    if variant is not None:
        x_train, y_train, x_held, y_held = world.fit
        world = replace(world, weight=variant.weight.float(), bias=variant.bias.float(),
                        features=variant.apply(world.features).float(),
                        fit=(variant.apply(x_train).float(), y_train,
                             variant.apply(x_held).float(), y_held))
    shift = torch.zeros(world.features.shape[1]) if shift is None else shift.float()
    weight, bias, labels, names = world.weight, world.bias, world.labels, world.class_names
    if permutation is not None:
        order = torch.tensor(permutation)
        inverse = torch.argsort(order)  # new row j is old row inverse[j]
        weight, bias = weight[inverse], bias[inverse]
        labels = order[labels]
        names = [world.class_names[int(i)] for i in inverse]
    x_train, y_train, x_held, y_held = world.fit
    train = RidgeAccumulator(weight.shape[1], y_train.shape[1]).update(x_train + shift, y_train)
    held = RidgeAccumulator(weight.shape[1], y_train.shape[1]).update(x_held + shift, y_held)
    translator, _, _ = fit_ridge(train, held)
    classifier = FeatureClassifier(weight, bias)
    classifier.info.class_names = names
    artefacts = tmp_path / "artefacts"
    artefacts.mkdir(parents=True, exist_ok=True)
    return WorldContext(
        name=world.name, classifier=classifier, joint_space=world.joint_space,
        class_names=names, labels=labels.clone(),
        image_keys=[f"image-{i}" for i in range(len(labels))],
        features=world.features + shift, image_embeddings=world.embeddings,
        geometry=head_geometry(weight), translator=translator.eval(),
        translator_info={"architecture": "linear"}, prompts=PromptSpec(), seed=0,
        device=torch.device("cpu"), artefact_dir=artefacts, artefact_prefix="artefacts",
        fit=(x_train + shift, y_train, x_held + shift, y_held), attributes={},
        null_removal=null_removal,
    )


def aimed_offset(world: Extracted, tmp_path: Path, target: int, size: float) -> torch.Tensor:
    """``size`` x the median feature norm along the null direction whose translation points most
    toward class ``target``'s prompt: the drift that hits that class hardest."""
    ctx = context(world, tmp_path)
    text = ctx.prompt_embeddings([world.class_names[target]])[0].double()
    weight = ctx.translator.weight.detach().double()  # the affine translator's (k, m)
    direction = ctx.geometry.project_null((weight.T @ (text / text.norm()))[None])[0]
    return size * world.features.norm(dim=1).median() * direction / direction.norm()


def random_offset(world: Extracted, size: float, seed: int) -> torch.Tensor:
    geometry = head_geometry(world.weight)
    rng = np.random.default_rng(seed)
    direction = geometry.project_null(torch.from_numpy(rng.normal(size=(1, world.weight.shape[1]))))
    return size * world.features.norm(dim=1).median() * direction[0] / direction[0].norm()

