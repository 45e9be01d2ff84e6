"""Reading a module's final layer as one linear head, and a classifier built on forward hooks.

Penultimate features are exactly the input of the final linear layer(s), captured by forward
pre-hooks, so norms and pooling before the head belong to the features.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from singaudit.adapters.classifiers.base import Classifier, ClassifierInfo, Preprocessing
from singaudit.errors import UnsupportedModel
from singaudit.wording import significant

# Layers that only reshape or are the identity at inference time.
_PASS_THROUGH = (nn.Identity, nn.Dropout, nn.Flatten)

TOKEN_SELECTORS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "cls": lambda tokens: tokens[:, 0],
    "mean": lambda tokens: tokens.mean(dim=1),
    "patch_mean": lambda tokens: tokens[:, 1:].mean(dim=1),
}


def token_selector(name: str | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    if name is None:
        return None
    try:
        return TOKEN_SELECTORS[name]
    except KeyError:
        raise UnsupportedModel(
            f"unknown token selector {name!r}; choose one of {', '.join(TOKEN_SELECTORS)}"
        ) from None


def submodule(module: nn.Module, path: str) -> nn.Module:
    """``module.get_submodule(path)`` with a message that lists the top-level children."""
    try:
        return module.get_submodule(path)
    except AttributeError:
        children = ", ".join(name for name, _ in module.named_children()) or "(none)"
        raise UnsupportedModel(
            f"the model has no submodule {path!r}; its top-level modules are: {children}"
        ) from None


def final_linear(head: nn.Module, where: str) -> nn.Module:
    """The layer inside ``head`` that produces the logits: a Linear or a 1x1 Conv2d.

    Containers are walked backwards over pass-through layers (Identity, Dropout, Flatten);
    anything else after the last linear layer cannot be read as a linear head.
    """
    if isinstance(head, (nn.Linear, nn.Conv2d)):
        _check_conv(head, where)
        return head
    children = [(name, child) for name, child in head.named_children()]
    while children and isinstance(children[-1][1], _PASS_THROUGH):
        children.pop()
    if not children:
        raise UnsupportedModel(
            f"{where} ({type(head).__name__}) has no linear layer: the model has no classifier "
            "head (was it built with num_classes=0?)"
        )
    last_linear = max(
        (
            i
            for i, (_, child) in enumerate(children)
            if isinstance(child, (nn.Linear, nn.Conv2d)) or list(child.children())
        ),
        default=-1,  # none: everything left trails
    )
    trailing = children[last_linear + 1 :]
    if trailing:
        after = ", ".join(f"{type(child).__name__} ({where}.{name})" for name, child in trailing)
        raise UnsupportedModel(
            f"{where} applies {after} after its last linear layer, so the logits are not a "
            "linear function of one penultimate feature; point the head path at a Linear or "
            "1x1 Conv2d that produces the logits"
        )
    name, last = children[last_linear]
    return final_linear(last, f"{where}.{name}")


def linear_weights(layer: nn.Module, where: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(W (c, m), b (c,) or None) of a Linear or 1x1 Conv2d, detached on the CPU in float32."""
    if isinstance(layer, nn.Linear):
        weight = layer.weight
    elif isinstance(layer, nn.Conv2d):
        _check_conv(layer, where)
        weight = layer.weight.flatten(1)
    else:
        raise UnsupportedModel(
            f"{where} is a {type(layer).__name__}, not a Linear or 1x1 Conv2d head"
        )
    bias = layer.bias.detach().float().cpu() if layer.bias is not None else None
    return weight.detach().float().cpu(), bias


def _check_conv(layer: nn.Module, where: str) -> None:
    if isinstance(layer, nn.Conv2d) and (layer.kernel_size != (1, 1) or layer.groups != 1):
        raise UnsupportedModel(
            f"{where} is a Conv2d with kernel {layer.kernel_size} and groups {layer.groups}; "
            "only 1x1 convolutions with groups=1 act as a linear head"
        )


def flatten_features(values: torch.Tensor,
                     selector: Callable[[torch.Tensor], torch.Tensor] | None,
                     where: str) -> torch.Tensor:
    """A head input as (n, m): 1x1 spatial maps flattened, token sequences reduced."""
    if values.ndim == 2:
        return values
    if values.ndim == 4 and values.shape[-2:] == (1, 1):
        return values.flatten(1)
    if values.ndim == 3:
        if selector is None:
            raise UnsupportedModel(
                f"{where} receives a token sequence {tuple(values.shape)}; give a token selector "
                f"({', '.join(TOKEN_SELECTORS)}) to choose the penultimate feature"
            )
        return selector(values)
    raise UnsupportedModel(
        f"{where} receives an input of shape {tuple(values.shape)}; a linear head needs (n, m), "
        "(n, m, 1, 1) or a token sequence (n, tokens, m)"
    )


def model_logits(output: object) -> torch.Tensor:
    """Logits from what a model's forward returns (a tensor, a tuple, or an output object)."""
    if isinstance(output, torch.Tensor):
        return output
    logits = getattr(output, "logits", None)
    if isinstance(logits, torch.Tensor):
        return logits
    if isinstance(output, (tuple, list)) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise UnsupportedModel(f"cannot find logits in the model's output ({type(output).__name__})")


class HookedClassifier(Classifier):
    """Any ``nn.Module`` whose logits are the mean of one or more linear heads' outputs.

    With several heads (distilled DeiT: class and distillation tokens) the features are the
    heads' inputs concatenated and W = [W_1 ... W_k] / k, which reproduces the averaged logits
    exactly.
    """

    def __init__(
        self,
        module: nn.Module,
        head_paths: Sequence[str],
        *,
        info: ClassifierInfo,
        preprocessing: Preprocessing,
        token_selector_name: str | None = None,
        call: Callable[[nn.Module, torch.Tensor], object] | None = None,
    ) -> None:
        self.module = module.eval()
        self.head_paths = list(head_paths)
        self.heads = [final_linear(submodule(module, p), p or "the model") for p in head_paths]
        self.selector = token_selector(token_selector_name)
        self.info = info
        self.preprocessing = preprocessing
        self._call = call or (lambda m, x: m(x))
        weights = [linear_weights(h, p) for h, p in zip(self.heads, self.head_paths)]
        count = len(weights)
        self._weight = torch.cat([w for w, _ in weights], dim=1) / count
        biases = [b for _, b in weights if b is not None]
        self._bias = torch.stack(biases).sum(0) / count if biases else None

    def _run(self, images: torch.Tensor) -> tuple[object, list[torch.Tensor]]:
        captured: list[torch.Tensor | None] = [None] * len(self.heads)

        def hook_for(index: int) -> Callable[[nn.Module, tuple[torch.Tensor, ...]], None]:
            def hook(_module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
                captured[index] = args[0]

            return hook

        handles = [h.register_forward_pre_hook(hook_for(i)) for i, h in enumerate(self.heads)]
        try:
            output = self._call(self.module, images)
        finally:
            for handle in handles:
                handle.remove()
        if any(c is None for c in captured):
            raise UnsupportedModel(
                f"the head layer(s) {self.head_paths} were not called by the model's forward"
            )
        return output, captured  # type: ignore[return-value]

    def features(self, images: torch.Tensor) -> torch.Tensor:
        _, captured = self._run(images)
        parts = [flatten_features(c, self.selector, p) for c, p in zip(captured, self.head_paths)]
        return torch.cat(parts, dim=1) if len(parts) > 1 else parts[0]

    def head(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        return self._weight, self._bias

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        logits = model_logits(self._call(self.module, images))
        return flatten_features(logits, self.selector, "the model's output")

    def to(self, device: str | torch.device, dtype: torch.dtype | None = None
           ) -> HookedClassifier:
        self.module.to(device=device, dtype=dtype)
        return self


def verify_linear_head(classifier: Classifier, size: int, *, tolerance: float = 1e-3) -> None:
    """Refuse a model whose logits are not ``features @ W.T + b`` (one random image)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(1, 3, size, size, generator=generator)
    try:
        with torch.inference_mode():
            expected = classifier.forward(images).float()
            got = classifier.logits(classifier.features(images).float())
    except RuntimeError as error:  # e.g. "mat1 and mat2 shapes cannot be multiplied"
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise UnsupportedModel(
            f"the model fails on the input its preprocessing makes, a (1, 3, {size}, {size}) "
            f"tensor ({classifier.preprocessing.describe}): {first}. If it expects another "
            "input size, give it its own preprocessing (a python: factory returns "
            "{'module': ..., 'head': ..., 'preprocessing': singaudit.Preprocessing(...)})"
        ) from None
    if expected.shape != got.shape:
        raise UnsupportedModel(
            f"the head reading gives logits of shape {tuple(got.shape)} but the model returns "
            f"{tuple(expected.shape)}"
        )
    scale = expected.abs().max().clamp_min(1.0)
    difference = float((expected - got).abs().max() / scale)
    if difference > tolerance:
        raise UnsupportedModel(
            f"features @ W.T + b does not reproduce the model's logits (relative difference "
            f"{significant(difference, 2)}): something after the head layer is not linear"
        )


def default_class_names(num_classes: int) -> list[str]:
    """ImageNet names for 1000-class models, else ``class_0 ... class_{c-1}``."""
    if num_classes == 1000:
        from singaudit.adapters.data._imagenet import imagenet_class_names

        return imagenet_class_names()
    return [f"class_{index}" for index in range(num_classes)]
