"""The calibration world's networks (torch modules; training lives in ``train.py``).

Classifier constructions (the ground truth the audit must recover):

- ``ShapeNet``: a CNN -> 16-d hidden shape code (ReLU) -> 6 shape logits.
- ``NuisanceNet``: cannot see shape by construction: a per-pixel MLP (1x1 convolutions on RGB
  only) pooled into colour statistics and their first spatial moments (mean, max, mean * x,
  mean * y). Every shape has the same area, so these statistics carry colour, background and
  position but (almost) no shape. Trained to predict colour, background colour, background
  pattern and position.
- ``clean``  f = Q D ([shape logits (6) | nuisance code (48)] - c)                  (m = 54)
- ``leaky``  f = Q D ([shape logits (6) | hidden shape code (16)] - c)              (m = 22)
- ``mixed``  f = Q D ([shape logits (6) | hidden shape code (16) | nuisance (48)] - c) (m = 70)
  The head reads the logits block only: W = [D_logits^-1 | 0] Q^T, b = c_logits, so W has rank 6
  and its null space is exactly the span of the other blocks. Q is a fixed, seeded random
  orthogonal matrix (the null space is not axis-aligned). c and D standardise every block
  coordinate on training scenes (zero mean, unit variance), the logits block to LOGIT_SCALE
  (train.py): null removal then moves a feature to the data mean of its null content rather than
  to an origin no scene produces, and a translator draws class evidence from the richer hidden
  code when there is one. The hidden shape code is the input of the shape logits: class evidence
  that the head ignores. ``mixed`` puts it beside the nuisance code (the hard case, see README).
- ``natural`` (``NaturalNet``): the same CNN trained end to end; penultimate = mean and max
  pooled last conv map (128-d), linear head.
- ``Decoder``: inverse graphics, not pixels: an MLP from an embedding's direction to one
  classification head per scene attribute; renders go through ``scenes.render``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from singaudit.calibration import captions, scenes

EMBED_DIM = 64
SHAPE_HIDDEN = 16
NUISANCE_DIM = 48
SHAPE_WIDTH = 16  # conv width of the shape and natural classifiers
JOINT_WIDTH = 16  # conv width of the joint space's image tower
MEAN, STD = 0.5, 0.25  # pixel normalisation of every calibration network


def to_tensor(images_uint8: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 numpy -> normalised float (n, 3, H, W)."""
    x = (
        torch.tensor(images_uint8).permute(0, 3, 1, 2).float() / 255.0
    )  # a copy: inputs may be read-only
    return (x - MEAN) / STD


def from_tensor(x: torch.Tensor) -> torch.Tensor:
    """Inverse of ``to_tensor``: uint8 (n, H, W, 3)."""
    pixels = (x * STD + MEAN).clamp(0, 1) * 255.0 + 0.5
    return pixels.to(torch.uint8).permute(0, 2, 3, 1)


def _conv(cin: int, cout: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class ConvTower(nn.Module):
    """64x64 image -> vector: four stride-2 convolutions, then a linear layer (``out_dim``).

    ``pool="flatten"`` keeps the 4x4 map and the mean and max over it (position survives: the
    joint space needs it); ``pool="global"`` keeps only the mean and max (translation invariant,
    learns shape faster). ``out_dim=None`` returns the pooled vector itself.
    """

    def __init__(self, out_dim: int | None, width: int = 16, pool: str = "flatten") -> None:
        super().__init__()
        self.pool = pool
        self.body = nn.Sequential(
            _conv(3, width, 3, 2),
            _conv(width, 2 * width, 3, 2),
            _conv(2 * width, 3 * width, 3, 2),
            _conv(3 * width, 4 * width, 3, 2),
        )
        self.pooled_dim = 4 * width * (18 if pool == "flatten" else 2)
        self.out = nn.Linear(self.pooled_dim, out_dim) if out_dim else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(x)
        pooled = [x.mean((2, 3)), x.amax((2, 3))]
        if self.pool == "flatten":
            if x.shape[-1] != 4:  # other input sizes: pool to the trained 4x4 grid
                x = F.adaptive_avg_pool2d(x, 4)
            pooled.append(x.flatten(1))
        return self.out(torch.cat(pooled, dim=1))


class TextTower(nn.Module):
    """Word ids -> embedding: word + position embeddings, a small transformer, masked mean and
    max over tokens, a linear projection."""

    def __init__(self, out_dim: int = EMBED_DIM, width: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.words = nn.Embedding(len(captions.VOCABULARY), width, padding_idx=0)
        self.positions = nn.Parameter(torch.zeros(captions.MAX_TOKENS, width))
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(2 * width, out_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == 0
        x = self.words(ids) + self.positions[: ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        mean = (x * keep).sum(1) / keep.sum(1).clamp(min=1)
        # Max pooling too: in a mean over "an image of a star" the one content word is diluted.
        peak = x.masked_fill(pad.unsqueeze(-1), -1e4).amax(1)
        return self.out(torch.cat([mean, peak], dim=1))


class JointModel(nn.Module):
    """A CLIP-style pair of towers sharing one embedding space."""

    def __init__(self, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.image = ConvTower(embed_dim, width=JOINT_WIDTH)
        self.text = TextTower(embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(2.66))  # log(1 / 0.07), as CLIP
        # Auxiliary shape head on image embeddings (training only; see contrastive_loss).
        self.shape_aux = nn.Linear(embed_dim, len(scenes.SHAPES))

    def contrastive_loss(
        self,
        images: torch.Tensor,
        ids: torch.Tensor,
        shapes: torch.Tensor | None = None,
        aux_weight: float = 0.0,
    ) -> torch.Tensor:
        """CLIP's symmetric InfoNCE; with ``aux_weight`` > 0 plus that weight times a shape
        cross-entropy on the image embeddings (contrastive learning alone learns colour and
        background quickly but shape only slowly in this world)."""
        embeddings = self.image(images)
        a = F.normalize(embeddings, dim=-1)
        b = F.normalize(self.text(ids), dim=-1)
        logits = a @ b.T * self.log_scale.clamp(max=4.6).exp()
        # Identical captions in one batch are all positives (subset captions repeat often).
        same = (ids[:, None, :] == ids[None, :, :]).all(-1).float()
        targets = same / same.sum(1, keepdim=True)
        loss = 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))
        if aux_weight > 0 and shapes is not None:
            loss = loss + aux_weight * F.cross_entropy(self.shape_aux(embeddings), shapes)
        return loss


class ShapeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tower = ConvTower(SHAPE_HIDDEN, width=SHAPE_WIDTH, pool="global")
        self.logits = nn.Linear(SHAPE_HIDDEN, len(scenes.SHAPES))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        # Linear (no ReLU): a 16-unit ReLU bottleneck can die entirely early in training.
        return self.tower(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.hidden(x))


class NuisanceNet(nn.Module):
    """Per-pixel colour features pooled with their first spatial moments (see module doc)."""

    def __init__(self, pixel_width: int = 24, out_dim: int = NUISANCE_DIM) -> None:
        super().__init__()
        self.pixel = nn.Sequential(
            nn.Conv2d(3, pixel_width, 1),
            nn.ReLU(),
            nn.Conv2d(pixel_width, pixel_width, 1),
            nn.ReLU(),
        )
        self.mlp = nn.Sequential(
            nn.Linear(4 * pixel_width, 128), nn.ReLU(), nn.Linear(128, out_dim)
        )
        n_colours, n_patterns = len(scenes.COLOURS), len(scenes.PATTERNS)
        # Auxiliary heads (colour, background colour, pattern, position); in no classifier.
        self.aux = nn.Linear(out_dim, 2 * n_colours + n_patterns + 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.pixel(F.avg_pool2d(x, 2))  # 2x2 averages: still local, four times cheaper
        h, w = phi.shape[-2:]
        ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1)
        xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w)
        # Max over pixels says which colours are present at all (the small foreground's too).
        pooled = torch.cat(
            [phi.mean((2, 3)), phi.amax((2, 3)), (phi * xs).mean((2, 3)), (phi * ys).mean((2, 3))],
            dim=1,
        )
        return self.mlp(pooled)


class LinearHeadNet(nn.Module):
    """A calibration classifier: penultimate ``features`` and a linear ``head`` reading them."""

    head: nn.Linear

    def features(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class NaturalNet(LinearHeadNet):
    """ResNet-style: the penultimate feature is the pooled (mean and max) last conv map."""

    def __init__(self) -> None:
        super().__init__()
        self.tower = ConvTower(None, width=SHAPE_WIDTH, pool="global")
        self.head = nn.Linear(self.tower.pooled_dim, len(scenes.SHAPES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.tower(x)


def random_orthogonal(dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()  # sign fix: a unique, seeded Q


class BlockClassifier(LinearHeadNet):
    """Penultimate f = Q D (blocks - c) with blocks = [logits | (hidden) | nuisance], D and c a
    fixed standardisation; head W = [D_logits^-1 | 0] Q^T, b = c_logits (see module doc)."""

    mix: torch.Tensor  # buffers, registered in __init__
    centre: torch.Tensor
    scale: torch.Tensor

    def __init__(
        self,
        shape_net: ShapeNet,
        nuisance_net: NuisanceNet,
        *,
        hidden: bool,
        nuisance: bool,
        mix_seed: int,
    ):
        super().__init__()
        self.shape_net, self.nuisance_net = shape_net, nuisance_net
        self.with_hidden, self.with_nuisance = hidden, nuisance
        n_classes = len(scenes.SHAPES)
        dim = n_classes + (SHAPE_HIDDEN if hidden else 0) + (NUISANCE_DIM if nuisance else 0)
        self.register_buffer("mix", random_orthogonal(dim, mix_seed))
        # Per-coordinate standardisation of the blocks, fitted on training scenes (standardise_on).
        self.register_buffer("centre", torch.zeros(dim))
        self.register_buffer("scale", torch.ones(dim))
        self.head = nn.Linear(dim, n_classes)
        with torch.no_grad():
            read_logits = torch.zeros(n_classes, dim)
            read_logits[:, :n_classes] = torch.eye(n_classes)
            self.head.weight.copy_(read_logits @ self.mix.T)
            self.head.bias.zero_()

    def blocks(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.shape_net.hidden(x)
        parts = [self.shape_net.logits(hidden)]
        if self.with_hidden:
            parts.append(hidden)
        if self.with_nuisance:
            parts.append(self.nuisance_net(x))
        return torch.cat(parts, dim=1)

    @torch.no_grad()
    def standardise_on(self, x: torch.Tensor, logit_scale: float = 1.0) -> None:
        """Standardise every block coordinate on the scenes ``x`` (zero mean, unit variance; the
        logits block to ``logit_scale``) and fold the inverse into the head, so the logits do not
        change. Null removal then moves a feature to the data mean of its null content, not to an
        origin no scene produces, and every block weighs the same in a translator's regression."""
        blocks = self.blocks(x)
        n_classes = len(scenes.SHAPES)
        self.centre.copy_(blocks.mean(0))
        self.scale.copy_(1.0 / blocks.std(0).clamp_min(1e-6))
        self.scale[:n_classes] *= logit_scale
        read_logits = torch.zeros(n_classes, len(self.centre))
        read_logits[:, :n_classes] = torch.diag(1.0 / self.scale[:n_classes])
        self.head.weight.copy_(read_logits @ self.mix.T)
        self.head.bias.copy_(self.centre[:n_classes])

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.blocks(x) - self.centre) * self.scale) @ self.mix.T


# Post-ReLU units per coordinate of the ignored code in the uncentred classifiers, and the bias
# that keeps most units active (as in a real network's pooled ReLU features, the mean is large).
UNCENTRED_EXPANSION = 2
UNCENTRED_BIAS = 0.5


class UncentredClassifier(LinearHeadNet):
    """Non-negative, uncentred features like a real network's pooled ReLU outputs:
    f = P [ReLU(a (logits - low)) | ReLU(E z + e)], z = the standardised ignored code (the
    nuisance code for ``code="nuisance"``, the hidden shape code for ``code="hidden"``), E a
    fixed random expansion, e > 0 a bias, P a fixed random permutation (the only orthogonal
    mix that keeps features non-negative). The head reads the logit units: W = [diag(1/a) | 0]
    P^T, b = low, so its null space is exactly the span of the code units, and most of the mean
    feature lies in it (null removal to zero then drifts; see README)."""

    expand: torch.Tensor  # buffers, registered in __init__
    order: torch.Tensor
    code_centre: torch.Tensor
    code_scale: torch.Tensor
    logit_low: torch.Tensor
    logit_scale: torch.Tensor

    def __init__(
        self, shape_net: ShapeNet, nuisance_net: NuisanceNet, *, code: str, seed: int
    ) -> None:
        super().__init__()
        if code not in ("nuisance", "hidden"):
            raise ValueError(f'code must be "nuisance" or "hidden", not {code!r}')
        self.shape_net, self.nuisance_net, self.code = shape_net, nuisance_net, code
        n_classes = len(scenes.SHAPES)
        code_dim = NUISANCE_DIM if code == "nuisance" else SHAPE_HIDDEN
        units = UNCENTRED_EXPANSION * code_dim
        generator = torch.Generator().manual_seed(seed)
        self.register_buffer(
            "expand", torch.randn(units, code_dim, generator=generator) / code_dim**0.5
        )
        self.register_buffer("order", torch.randperm(n_classes + units, generator=generator))
        # Standardisation of the code and the logits' offset and scale (fitted by fit_on).
        self.register_buffer("code_centre", torch.zeros(code_dim))
        self.register_buffer("code_scale", torch.ones(code_dim))
        self.register_buffer("logit_low", torch.zeros(n_classes))
        self.register_buffer("logit_scale", torch.ones(n_classes))
        self.head = nn.Linear(n_classes + units, n_classes)
        self._fold_head()

    def _code(self, x: torch.Tensor, hidden: torch.Tensor) -> torch.Tensor:
        return hidden if self.code == "hidden" else self.nuisance_net(x)

    def _fold_head(self) -> None:
        n_classes = len(scenes.SHAPES)
        read_units = torch.zeros(n_classes, len(self.order))
        read_units[:, :n_classes] = torch.diag(1.0 / self.logit_scale)
        with torch.no_grad():
            self.head.weight.copy_(read_units[:, self.order])
            self.head.bias.copy_(self.logit_low)

    @torch.no_grad()
    def fit_on(self, x: torch.Tensor, logit_scale: float = 1.0) -> None:
        """Standardise the code on the scenes ``x``; shift the logits so that they are positive on
        them (low = min - 1 std) and scale them to std ``logit_scale``; fold that into the head
        (the logits do not change)."""
        hidden = self.shape_net.hidden(x)
        logits, code = self.shape_net.logits(hidden), self._code(x, hidden)
        self.code_centre.copy_(code.mean(0))
        self.code_scale.copy_(1.0 / code.std(0).clamp_min(1e-6))
        spread = logits.std(0).clamp_min(1e-6)
        self.logit_low.copy_(logits.amin(0) - spread)
        self.logit_scale.copy_(logit_scale / spread)
        self._fold_head()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.shape_net.hidden(x)
        logit_units = F.relu((self.shape_net.logits(hidden) - self.logit_low) * self.logit_scale)
        code = (self._code(x, hidden) - self.code_centre) * self.code_scale
        code_units = F.relu(code @ self.expand.T + UNCENTRED_BIAS)
        return torch.cat([logit_units, code_units], dim=1)[:, self.order]


@dataclass(frozen=True)
class DecodedAttribute:
    """One scene parameter the decoder predicts: categorical (``low`` is None) or continuous,
    cut into ``bins`` equal bins over [low, high) and rendered at bin centres."""

    name: str
    bins: int
    low: float | None = None
    high: float | None = None
    # Background patterns on which the attribute is visible (None: every scene); the loss
    # ignores the others, where the label says nothing about the image.
    patterns: tuple[str, ...] | None = None
    not_for_shapes: tuple[str, ...] = ()  # shapes on which it is invisible (circle rotation)

    def centres(self) -> np.ndarray:
        if self.low is None or self.high is None:
            return np.arange(self.bins)
        width = (self.high - self.low) / self.bins
        return (self.low + width * (np.arange(self.bins) + 0.5)).astype(np.float32)

    def labels(self, values: np.ndarray) -> np.ndarray:
        if self.low is None or self.high is None:
            return np.asarray(values, dtype=np.int64)
        index = np.floor((values - self.low) / (self.high - self.low) * self.bins)
        return np.clip(index, 0, self.bins - 1).astype(np.int64)

    def relevant(self, params: scenes.SceneParams) -> np.ndarray:
        keep = np.ones(len(params), dtype=bool)
        if self.patterns is not None:
            codes = [scenes.PATTERNS.index(p) for p in self.patterns]
            keep &= np.isin(params.pattern, codes)
        if self.not_for_shapes:
            keep &= ~np.isin(params.shape, [scenes.SHAPES.index(s) for s in self.not_for_shapes])
        return keep


_PERIODIC = ("stripes", "dots", "checker")
# Every scenes.SceneParams field but the colour jitter (rendered as palette colours) and the
# noise seed (not visible as a value: the decoder takes it from the render seed).
DECODED_ATTRIBUTES = (
    DecodedAttribute("shape", len(scenes.SHAPES)),
    DecodedAttribute("colour", len(scenes.COLOURS)),
    DecodedAttribute("background", len(scenes.COLOURS)),
    DecodedAttribute("pattern", len(scenes.PATTERNS)),
    DecodedAttribute("size", 5, *scenes.SIZE_RANGE),
    DecodedAttribute("x", 8, *scenes.CENTRE_RANGE),
    DecodedAttribute("y", 8, *scenes.CENTRE_RANGE),
    DecodedAttribute(
        "rotation",
        6,
        -float(scenes.ROTATION_RANGE),
        float(scenes.ROTATION_RANGE),
        not_for_shapes=("circle",),
    ),
    DecodedAttribute("pattern_period", 5, 7.0, 12.0, patterns=_PERIODIC),
    DecodedAttribute("pattern_angle", 8, 0.0, float(np.pi), patterns=("stripes",)),
    DecodedAttribute("phase_x", 4, 0.0, 1.0, patterns=_PERIODIC),
    DecodedAttribute("phase_y", 4, 0.0, 1.0, patterns=("dots", "checker")),
)


def attribute_values(params: scenes.SceneParams) -> dict[str, np.ndarray]:
    """The true value of every decoded attribute (the decoder's training labels, unbinned)."""
    return {
        "shape": params.shape,
        "colour": params.colour,
        "background": params.background,
        "pattern": params.pattern,
        "size": params.size,
        "x": params.centre[:, 0],
        "y": params.centre[:, 1],
        "rotation": params.rotation,
        "pattern_period": params.pattern_period,
        "pattern_angle": params.pattern_angle,
        "phase_x": params.pattern_phase[:, 0],
        "phase_y": params.pattern_phase[:, 1],
    }


class Decoder(nn.Module):
    """Inverse graphics: joint image embedding (direction only: it is normalised first) -> one
    categorical distribution per scene attribute (``DECODED_ATTRIBUTES``); ``scene_params`` turns
    chosen bins into scene parameters that ``scenes.render`` draws."""

    def __init__(self, embed_dim: int = EMBED_DIM, width: int = 256) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(embed_dim, width),
            nn.ReLU(),
            nn.Linear(width, width),
            nn.ReLU(),
            nn.Linear(width, sum(a.bins for a in DECODED_ATTRIBUTES)),
        )

    def forward(self, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
        """Logits per attribute name, each (n, bins)."""
        z = F.normalize(embeddings, dim=-1) * embeddings.shape[-1] ** 0.5
        logits = torch.split(self.net(z), [a.bins for a in DECODED_ATTRIBUTES], dim=1)
        return {a.name: part for a, part in zip(DECODED_ATTRIBUTES, logits)}

    def loss(self, embeddings: torch.Tensor, params: scenes.SceneParams) -> torch.Tensor:
        """Sum over attributes of the cross-entropy to the true bins (on scenes where visible)."""
        logits, values = self(embeddings), attribute_values(params)
        total = embeddings.new_zeros(())
        for attribute in DECODED_ATTRIBUTES:
            keep = torch.as_tensor(attribute.relevant(params))
            labels = torch.as_tensor(attribute.labels(values[attribute.name]))
            if keep.any():
                total = total + F.cross_entropy(logits[attribute.name][keep], labels[keep])
        return total

    @staticmethod
    def scene_params(bins: dict[str, np.ndarray], noise_seed: int = 0) -> scenes.SceneParams:
        """Scene parameters at the centres of the chosen ``bins`` (palette colours, no jitter)."""
        value = {a.name: a.centres()[bins[a.name]] for a in DECODED_ATTRIBUTES}
        n = len(value["shape"])
        return scenes.SceneParams(
            shape=value["shape"].astype(np.int64),
            colour=value["colour"].astype(np.int64),
            colour_rgb=scenes.PALETTE[value["colour"]],
            size=value["size"],
            centre=np.stack([value["x"], value["y"]], axis=1),
            rotation=value["rotation"],
            pattern=value["pattern"].astype(np.int64),
            background=value["background"].astype(np.int64),
            background_rgb=scenes.PALETTE[value["background"]],
            pattern_period=value["pattern_period"],
            pattern_angle=value["pattern_angle"],
            pattern_phase=np.stack([value["phase_x"], value["phase_y"]], axis=1),
            noise_seed=np.full(n, noise_seed, dtype=np.uint32),
        )

    @torch.no_grad()
    def choose(
        self, embeddings: torch.Tensor, uniforms: np.ndarray | None = None
    ) -> dict[str, np.ndarray]:
        """Bin per attribute: the most probable (``uniforms`` None) or drawn by inverse CDF with
        ``uniforms[k]`` for the k-th attribute, the same number for every embedding. The
        background is chosen among the colours other than the chosen shape colour (as in every
        scene: the shape stays visible)."""
        logits = self(embeddings)
        chosen: dict[str, np.ndarray] = {}
        for k, attribute in enumerate(DECODED_ATTRIBUTES):
            scores = logits[attribute.name].double()
            if attribute.name == "background":
                taken = torch.as_tensor(chosen["colour"], device=scores.device)
                scores = scores.scatter(1, taken[:, None], float("-inf"))
            if uniforms is None:
                chosen[attribute.name] = scores.argmax(1).cpu().numpy()
                continue
            cdf = torch.softmax(scores, dim=1).cumsum(1).cpu().numpy()
            drawn = (cdf < uniforms[k] * cdf[:, -1:]).sum(1)
            chosen[attribute.name] = np.minimum(drawn, attribute.bins - 1)
        return chosen

    @torch.no_grad()
    def render(self, embeddings: torch.Tensor, seed: int = 0, size: int = scenes.IMAGE_SIZE
               ) -> np.ndarray:
        """uint8 images (n, size, size, 3). Seed 0: the most probable bin of every attribute.
        Other seeds: ``default_rng(seed)`` draws one uniform per attribute (and the noise
        pattern's seed), shared by every embedding, so renders with one seed differ only
        through their embeddings."""
        if seed == 0:
            return scenes.render(self.scene_params(self.choose(embeddings)), size)
        rng = np.random.default_rng(seed)
        uniforms = rng.random(len(DECODED_ATTRIBUTES))
        noise_seed = int(rng.integers(0, 2**32, dtype=np.uint32))
        return scenes.render(self.scene_params(self.choose(embeddings, uniforms), noise_seed), size)
