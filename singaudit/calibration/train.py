"""Train the whole calibration world, seeded: ``python -m singaudit.calibration.train``.

Every model trains on fresh scenes from the ``train`` split stream; accuracies are measured on
the ``test`` split; the ground-truth verification uses ``validation`` (ridge alpha) and
``audit`` scenes. Nothing is selected on the test split.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from singaudit.adapters.weights import save_state_dict, state_dict_hash
from singaudit.calibration import captions, models, scenes, verify, zoo
from singaudit.pipeline.atomic import atomic_write_text

SCALES = {
    "full": {"batch": 128, "joint": 1500, "shape": 900, "nuisance": 500, "natural": 900, "decoder": 1000,
                 "lr": 2e-3, "eval_per_class": 200, "verify_fit": 3000, "verify_eval": 600},
    "smoke": {"batch": 16, "joint": 3, "shape": 3, "nuisance": 3, "natural": 3, "decoder": 3,
                  "lr": 2e-3, "eval_per_class": 4, "verify_fit": 60, "verify_eval": 24},
}


class _Clock:
    """Wall and CPU seconds per phase."""

    def __init__(self) -> None:
        self.phases: dict[str, dict[str, float]] = {}

    def phase(self, name: str):
        clock = self

        class _Phase:
            def __enter__(self):
                self.wall, self.cpu = time.perf_counter(), time.process_time()

            def __exit__(self, *exc):
                clock.phases[name] = {
                    "wall_s": round(time.perf_counter() - self.wall, 1),
                    "cpu_s": round(time.process_time() - self.cpu, 1),
                }

        return _Phase()


def _stream(seed: int, batch: int, steps: int) -> Iterator[tuple[int, np.ndarray, scenes.SceneParams]]:
    for step in range(steps):
        images, params = scenes.generate("train", seed, step * batch, batch)
        yield step, images, params


def _fit(module: torch.nn.Module, loss_fn: Callable, stream, steps: int, lr: float, log, name: str):
    optimiser = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, lr, total_steps=max(steps, 1),
                                                   pct_start=0.15)
    module.train()
    for step, images, params in stream:
        loss = loss_fn(module, step, models.to_tensor(images), params)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"  {name} step {step + 1}/{steps} loss {loss.item():.4f}")
    return module.eval()


def _joint_loss(seed: int):
    def loss(model, step, x, params):
        texts = captions.captions_for(params, np.random.default_rng([seed, step]))
        return model.contrastive_loss(x, torch.as_tensor(captions.tokenize(texts)))

    return loss


def _shape_loss(model, step, x, params):
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


def _nuisance_loss(model, step, x, params):
    out = _split_aux(model.aux(model(x)))
    target = _nuisance_targets(params)
    return (
        F.cross_entropy(out["colour"], target["colour"])
        + F.cross_entropy(out["background"], target["background"])
        + F.cross_entropy(out["pattern"], target["pattern"])
        + F.mse_loss(out["position"], target["position"])
    )


def _decoder_loss(joint: models.JointModel):
    def loss(decoder, step, x, params):
        with torch.no_grad():
            embeddings = joint.image(x)
        return F.mse_loss(decoder(embeddings), x)

    return loss


@torch.no_grad()
def _batched(fn, images: np.ndarray, batch: int = 256) -> torch.Tensor:
    return torch.cat([fn(models.to_tensor(images[i : i + batch])) for i in range(0, len(images), batch)])


@torch.no_grad()
def zero_shot_accuracies(joint: models.JointModel, images: np.ndarray, params) -> dict[str, float]:
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


def _probe(train_x, train_y, test_x, test_y) -> float:
    """Held-out accuracy of a logistic-regression probe (how much a block says about a label)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    scaler = StandardScaler().fit(train_x)
    probe = LogisticRegression(max_iter=2000).fit(scaler.transform(train_x), train_y)
    return float(probe.score(scaler.transform(test_x), test_y))


@torch.no_grad()
def _nuisance_report(nuisance: models.NuisanceNet, seed: int, n_train: int, test) -> dict:
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
    report["position_rmse_px"] = float(((out["position"] - target["position"]) * 16).pow(2).mean().sqrt())
    report["shape_probe_accuracy"] = _probe(block_train, train_params.shape, block_test, test_params.shape)
    report["chance"] = 1 / len(scenes.SHAPES)
    return report


@torch.no_grad()
def _decoder_report(decoder, joint, natural, images, params) -> dict:
    """Reconstruction error and how recognisable renders are (natural classifier, zero-shot)."""
    x_renders = _batched(lambda x: decoder(joint.image(x)), images)
    renders = models.from_tensor(x_renders).numpy()
    mse = float(F.mse_loss(x_renders, _batched(lambda x: x, images)))
    zero_shot = zero_shot_accuracies(joint, renders, params)
    return {
        "mse_normalised": mse,
        "render_shape_accuracy_natural": accuracy(natural, renders, params.shape),
        "render_zero_shot": zero_shot,
    }


def _versions() -> dict[str, str]:
    import safetensors

    import singaudit

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "safetensors": safetensors.__version__,
        "singaudit": singaudit.__version__,
    }


def train_calibration(out_dir, *, seed: int = 0, scale: str = "full", log=print) -> dict:
    """Train every calibration model, write ``<name>.safetensors`` and metadata.json into
    ``out_dir``, and return the metadata (accuracies, ground truth, timings, versions)."""
    if scale not in SCALES:
        raise ValueError(f"unknown scale {scale!r}; expected one of {sorted(SCALES)}")
    config = SCALES[scale]
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    clock = _Clock()
    batch, lr = config["batch"], config["lr"]
    test = scenes.generate("test", seed, 0, config["eval_per_class"] * len(scenes.SHAPES))
    start_wall, start_cpu = time.perf_counter(), time.process_time()

    def run(name: str, module: torch.nn.Module, loss, offset: int):
        torch.manual_seed(seed * 100 + offset)
        steps = config[name]
        log(f"training {name} ({steps} steps of {batch})")
        with clock.phase(name):
            return _fit(module, loss, _stream(seed, batch, steps), steps, lr, log, name)

    joint = run("joint", models.JointModel(), _joint_loss(seed), 1)
    shape_net = run("shape", models.ShapeNet(), _shape_loss, 2)
    nuisance = run("nuisance", models.NuisanceNet(), _nuisance_loss, 3)
    natural = run("natural", models.NaturalNet(), _shape_loss, 4)
    decoder = run("decoder", models.Decoder(), _decoder_loss(joint), 5)

    classifiers = {
        "clean": models.BlockClassifier(shape_net, nuisance, False, zoo.mix_seed(seed, "clean")),
        "leaky": models.BlockClassifier(shape_net, nuisance, True, zoo.mix_seed(seed, "leaky")),
        "natural": natural,
    }
    metadata: dict = {"seed": seed, "scale": scale, "config": config, "versions": _versions()}
    with clock.phase("evaluation"):
        metadata["zero_shot"] = zero_shot_accuracies(joint, *test)
        metadata["classifier_accuracy"] = {
            name: accuracy(model.eval(), test[0], test[1].shape) for name, model in classifiers.items()
        }
        metadata["nuisance_block"] = _nuisance_report(nuisance, seed, config["verify_fit"], test)
        metadata["decoder"] = _decoder_report(decoder, joint, natural, *test)
        metadata["n_test"] = len(test[0])
    with clock.phase("ground_truth"):
        metadata["ground_truth"] = {
            name: verify.ground_truth(model, joint, seed=seed, n_fit=config["verify_fit"],
                                      n_validation=config["verify_eval"],
                                      n_eval=config["verify_eval"])
            for name, model in classifiers.items()
        }
    modules = {"joint": joint, "decoder": decoder, **classifiers}
    metadata["weights"] = {}
    for name, module in modules.items():
        path = out / f"{name}.safetensors"
        save_state_dict(module.state_dict(), path)
        metadata["weights"][name] = {"file": path.name, "bytes": path.stat().st_size,
                                     "hash": state_dict_hash(module)}
    metadata["weights_total_bytes"] = sum(w["bytes"] for w in metadata["weights"].values())
    metadata["timing"] = {
        "phases": clock.phases,
        "total_wall_s": round(time.perf_counter() - start_wall, 1),
        "total_cpu_s": round(time.process_time() - start_cpu, 1),
        "torch_threads": torch.get_num_threads(),
    }
    atomic_write_text(out / "metadata.json", json.dumps(metadata, indent=2) + "\n")
    return metadata


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=zoo.WEIGHTS_DIR, help="output folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="a seconds-long reduced run")
    args = parser.parse_args(argv)
    metadata = train_calibration(args.out, seed=args.seed, scale="smoke" if args.smoke else "full",
                                 log=lambda line: print(line, file=sys.stderr, flush=True))
    summary = {k: metadata[k] for k in ("zero_shot", "classifier_accuracy", "timing")}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
