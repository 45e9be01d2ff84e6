"""The translator architectures: name -> builder, fitter and options model, in one registry.

The spec's ``translator.arch`` and ``translator.options``, the translator store, the fidelity
check's comparison and provenance all read ``TRANSLATOR_ARCHITECTURES``; a third party adds an
architecture with ``TRANSLATOR_ARCHITECTURES.add(name, TranslatorArchitecture(...))``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError

from singaudit.errors import DataError, SpecError
from singaudit.registry import Registry, RegistryError

if TYPE_CHECKING:  # torch is imported when a translator is built or fitted, not to validate a spec
    import torch

    from singaudit.maths import translators as maths

Fitter = Callable[..., "tuple[maths.Translator, dict[str, Any]]"]


class LinearOptions(BaseModel):
    """Options of the closed-form ridge translator."""

    model_config = ConfigDict(extra="forbid")
    alphas: list[PositiveFloat] | None = Field(
        None, min_length=1, description="ridge penalties to try (default: a scale-free grid)")
    chunk_size: int = Field(4096, ge=1, description="rows per streamed update")


class GradientOptions(BaseModel):
    """Options of the gradient-trained translators (AdamW, early stopping on held-out loss)."""

    model_config = ConfigDict(extra="forbid")
    loss: Literal["mse", "cos", "mse+cos"] = "mse"
    lr: PositiveFloat = 1e-4
    weight_decay: float = Field(0.1, ge=0)
    epochs: int = Field(100, ge=1)
    batch_size: int = Field(256, ge=1)
    patience: int = Field(10, ge=1)
    hidden: int | None = Field(None, ge=1, description="hidden width (default: feature dim)")


@dataclass(frozen=True)
class TranslatorArchitecture:
    """``build(in_dim, out_dim, hidden)`` makes a fresh module (to load weights into);
    ``fit(x_train, y_train, x_heldout, y_heldout, options, seed=, executor=)`` trains one."""

    name: str
    description: str
    options: type[BaseModel]
    build: Callable[[int, int, int | None], maths.Translator]
    fit: Fitter
    aliases: tuple[str, ...] = ()


def _fit_linear(x_train: torch.Tensor, y_train: torch.Tensor, x_heldout: torch.Tensor,
                y_heldout: torch.Tensor, options: LinearOptions, *, seed: int = 0,
                executor: Any = None) -> tuple[maths.Translator, dict[str, Any]]:
    from singaudit.maths import translators as maths
    from singaudit.pipeline.executors import local_executor

    train = (executor or local_executor()).ridge_statistics(x_train, y_train, options.chunk_size)
    select = maths.RidgeAccumulator(x_train.shape[1], y_train.shape[1])
    select.update(x_heldout, y_heldout)
    _, alpha, metrics = maths.fit_ridge(train, select, options.alphas)
    # alpha chosen on the selection rows, the final map is refitted on train + selection rows
    merged = train.merge(select)
    return merged.solve(alpha), {"alpha": alpha, "curve": metrics["curve"], "fitted_rows": merged.n}


def _gradient_fitter(build: Callable[[int, int, int | None], maths.Translator]) -> Fitter:
    def fit(x_train: torch.Tensor, y_train: torch.Tensor, x_heldout: torch.Tensor,
            y_heldout: torch.Tensor, options: GradientOptions, *, seed: int = 0,
            executor: Any = None) -> tuple[maths.Translator, dict[str, Any]]:
        from singaudit.maths import translators as maths

        settings = options.model_dump()
        hidden = settings.pop("hidden")
        module, history = maths.train_translator(
            lambda in_dim, out_dim: build(in_dim, out_dim, hidden),
            x_train, y_train, x_heldout, y_heldout, seed=seed, **settings)
        return module, {"best_epoch": history.get("best_epoch"),
                        "epochs": len(history["val_loss"])}

    return fit


def _linear(in_dim: int, out_dim: int, hidden: int | None = None) -> maths.Translator:
    from singaudit.maths import translators as maths

    return maths.AffineTranslator(in_dim, out_dim)


def _mlp(depth: int) -> Callable[[int, int, int | None], maths.Translator]:
    def build(in_dim: int, out_dim: int, hidden: int | None = None) -> maths.Translator:
        from singaudit.maths import translators as maths

        return maths.MLPTranslator(in_dim, out_dim, hidden, depth)

    return build


def _residual(in_dim: int, out_dim: int, hidden: int | None = None) -> maths.Translator:
    from singaudit.maths import translators as maths

    return maths.ResidualMLPTranslator(in_dim, out_dim, hidden)


TRANSLATOR_ARCHITECTURES: Registry[TranslatorArchitecture] = Registry(
    "translator architecture", base=TranslatorArchitecture)
TRANSLATOR_ARCHITECTURES.add("linear", TranslatorArchitecture(
    "linear", "ridge regression in closed form from streamed statistics", LinearOptions,
    _linear, _fit_linear))
for _depth in (3, 4):
    TRANSLATOR_ARCHITECTURES.add(f"mlp{_depth}", TranslatorArchitecture(
        f"mlp{_depth}", f"{_depth}-layer MLP (LayerNorm-GELU-Dropout blocks), AdamW",
        GradientOptions, _mlp(_depth), _gradient_fitter(_mlp(_depth)),
        aliases=(f"{_depth}layer",)))  # the SING authors' names
TRANSLATOR_ARCHITECTURES.add("residual", TranslatorArchitecture(
    "residual", "MLP with one residual block, AdamW", GradientOptions, _residual,
    _gradient_fitter(_residual)))


def architecture_names() -> list[str]:
    return TRANSLATOR_ARCHITECTURES.names()


def get_architecture(name: str) -> TranslatorArchitecture:
    """The architecture called ``name`` (or one of its aliases, any case); SpecError if none."""
    wanted = str(name).lower()
    for candidate in TRANSLATOR_ARCHITECTURES.names():
        architecture = TRANSLATOR_ARCHITECTURES.get(candidate)
        if wanted == candidate or wanted in architecture.aliases:
            return architecture
    try:
        return TRANSLATOR_ARCHITECTURES.get(name)
    except RegistryError as error:
        raise SpecError(str(error)) from None


def validate_options(arch: str, options: dict[str, Any]) -> BaseModel:
    """``options`` as ``arch``'s options model; SpecError naming each bad key."""
    architecture = get_architecture(arch)
    try:
        return architecture.options.model_validate(options)
    except ValidationError as error:
        lines = [f"{'.'.join(str(p) for p in detail['loc'])}: {detail['msg']}"
                 for detail in error.errors(include_url=False)]
        raise SpecError(f"options of a {architecture.name} translator: " + "; ".join(lines)
                        ) from None


def fit_translator(
    arch: str,
    options: dict[str, Any],
    x_fit: torch.Tensor,
    y_fit: torch.Tensor,
    x_test: torch.Tensor,
    y_test: torch.Tensor,
    *,
    seed: int = 0,
    select_fraction: float = 0.2,
    executor: Any = None,
) -> tuple[maths.Translator, dict[str, Any]]:
    """Fit ``arch`` on the fit rows, split (seeded) into train and selection rows (ridge alpha,
    early stopping); fidelity (mean cosine, MSE, R^2, per-row cosines) in ``info`` comes from the
    test rows, used neither to fit nor to select. ``executor`` reduces the ridge statistics."""
    import torch

    from singaudit.maths import translators as maths

    architecture = get_architecture(arch)
    train, select = selection_split(len(x_fit), select_fraction, seed)
    module, info = architecture.fit(x_fit[train], y_fit[train], x_fit[select], y_fit[select],
                                    validate_options(arch, options), seed=seed, executor=executor)
    module.eval()
    with torch.inference_mode():
        predicted = module(x_test.to(torch.float32))
    info.update(maths.fidelity(predicted, y_test))
    info["row_cosines"] = maths.row_cosines(predicted, y_test).tolist()
    info.update(n_train=info.pop("fitted_rows", len(train)), n_select=len(select),
                n_heldout=len(x_test), architecture=architecture.name)
    return module, info


def selection_split(n: int, select_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Seeded (train, selection) row indices of ``n`` fit rows, each sorted."""
    import torch

    n_select = max(1, round(n * select_fraction))
    if n - n_select < 2:
        raise DataError(f"too few translator fit images ({n}) to fit and select a translator")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    return order[n_select:].sort().values, order[:n_select].sort().values
