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
"""

from __future__ import annotations

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


def to_tensor(images_uint8) -> torch.Tensor:
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


class NaturalNet(nn.Module):
    """ResNet-style: the penultimate feature is the pooled (mean and max) last conv map."""

    def __init__(self) -> None:
        super().__init__()
        self.tower = ConvTower(None, width=SHAPE_WIDTH, pool="global")
        self.head = nn.Linear(self.tower.pooled_dim, len(scenes.SHAPES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.tower(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def random_orthogonal(dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()  # sign fix: a unique, seeded Q


class BlockClassifier(nn.Module):
    """Penultimate f = Q D (blocks - c) with blocks = [logits | (hidden) | nuisance], D and c a
    fixed standardisation; head W = [D_logits^-1 | 0] Q^T, b = c_logits (see module doc)."""

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class Decoder(nn.Module):
    """Joint image embedding (direction only: it is normalised first) -> 64x64 image."""

    def __init__(self, embed_dim: int = EMBED_DIM, width: int = 32) -> None:
        super().__init__()
        self.width = width
        self.inp = nn.Linear(embed_dim, 4 * width * 16)
        layers: list[nn.Module] = []
        for cin, cout in ((4 * width, 3 * width), (3 * width, 2 * width), (2 * width, width)):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1), nn.BatchNorm2d(cout), nn.ReLU()]
        layers.append(nn.ConvTranspose2d(width, 3, 4, 2, 1))
        self.body = nn.Sequential(*layers)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        z = F.normalize(embeddings, dim=-1) * embeddings.shape[-1] ** 0.5
        x = F.relu(self.inp(z)).view(-1, 4 * self.width, 4, 4)
        return self.body(x)
