"""The calibration world's networks (torch modules; training lives in ``train.py``).

Classifier constructions (the ground truth the audit must recover):

- ``ShapeNet``: a CNN -> 16-d hidden shape code (ReLU) -> 6 shape logits.
- ``NuisanceNet``: cannot see shape by construction: a per-pixel MLP (1x1 convolutions on RGB
  only) pooled into colour statistics and their first spatial moments (mean, mean * x,
  mean * y). Every shape has the same area, so these statistics carry colour, background and
  position but (almost) no shape. Trained to predict colour, background colour, background
  pattern and position.
- ``clean``  penultimate = Q [shape logits (6) | nuisance code (48)]                   (m = 54)
- ``leaky``  penultimate = Q [shape logits (6) | hidden shape code (16) | nuisance (48)] (m = 70)
  In both, the head reads the logits block only: W = [I_6 | 0] Q^T, so W has rank 6 and its null
  space is exactly the span of the other blocks. Q is a fixed random orthogonal matrix (seeded) so
  that the null space is not axis-aligned. The hidden shape code in ``leaky`` is the input of the
  shape logits, i.e. class evidence that the head ignores.
- ``natural`` (``NaturalNet``): the same CNN trained end to end, 64-d penultimate, linear head.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from singaudit.calibration import captions, scenes

EMBED_DIM = 64
SHAPE_HIDDEN = 16
NUISANCE_DIM = 48
NATURAL_DIM = 64
MEAN, STD = 0.5, 0.25  # pixel normalisation of every calibration network


def to_tensor(images_uint8) -> torch.Tensor:
    """(n, H, W, 3) uint8 numpy -> normalised float (n, 3, H, W)."""
    x = torch.as_tensor(images_uint8).permute(0, 3, 1, 2).float() / 255.0
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
    """64x64 image -> ``out_dim`` vector: four stride-2 convolutions, then a linear layer on the
    4x4 map (flattened, so position survives)."""

    def __init__(self, out_dim: int, width: int = 16) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv(3, width, 3, 2),
            _conv(width, 2 * width, 3, 2),
            _conv(2 * width, 3 * width, 3, 2),
            _conv(3 * width, 4 * width, 3, 2),
        )
        self.out = nn.Linear(4 * width * 16, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.body(x)
        if x.shape[-1] != 4:  # other input sizes: pool to the trained 4x4 grid
            x = F.adaptive_avg_pool2d(x, 4)
        return self.out(x.flatten(1))


class TextTower(nn.Module):
    """Word ids -> embedding: word + position embeddings, a small transformer, masked mean."""

    def __init__(self, out_dim: int = EMBED_DIM, width: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.words = nn.Embedding(len(captions.VOCABULARY), width, padding_idx=0)
        self.positions = nn.Parameter(torch.zeros(captions.MAX_TOKENS, width))
        layer = nn.TransformerEncoderLayer(width, 4, 2 * width, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.out = nn.Linear(width, out_dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        pad = ids == 0
        x = self.words(ids) + self.positions[: ids.shape[1]]
        x = self.encoder(x, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        return self.out((x * keep).sum(1) / keep.sum(1).clamp(min=1))


class JointModel(nn.Module):
    """A CLIP-style pair of towers sharing one embedding space."""

    def __init__(self, embed_dim: int = EMBED_DIM) -> None:
        super().__init__()
        self.image = ConvTower(embed_dim)
        self.text = TextTower(embed_dim)
        self.log_scale = nn.Parameter(torch.tensor(2.66))  # log(1 / 0.07), as CLIP

    def contrastive_loss(self, images: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
        a = F.normalize(self.image(images), dim=-1)
        b = F.normalize(self.text(ids), dim=-1)
        logits = a @ b.T * self.log_scale.clamp(max=4.6).exp()
        # Identical captions in one batch are all positives (subset captions repeat often).
        same = (ids[:, None, :] == ids[None, :, :]).all(-1).float()
        targets = same / same.sum(1, keepdim=True)
        return 0.5 * (F.cross_entropy(logits, targets) + F.cross_entropy(logits.T, targets))


class ShapeNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tower = ConvTower(SHAPE_HIDDEN)
        self.logits = nn.Linear(SHAPE_HIDDEN, len(scenes.SHAPES))

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.tower(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits(self.hidden(x))


class NuisanceNet(nn.Module):
    """Per-pixel colour features pooled with their first spatial moments (see module doc)."""

    def __init__(self, pixel_width: int = 24, out_dim: int = NUISANCE_DIM) -> None:
        super().__init__()
        self.pixel = nn.Sequential(
            nn.Conv2d(3, pixel_width, 1), nn.ReLU(), nn.Conv2d(pixel_width, pixel_width, 1), nn.ReLU()
        )
        self.mlp = nn.Sequential(
            nn.Linear(3 * pixel_width, 128), nn.ReLU(), nn.Linear(128, out_dim)
        )
        n_colours, n_patterns = len(scenes.COLOURS), len(scenes.PATTERNS)
        # Auxiliary heads (colour, background colour, pattern, position); not part of any classifier.
        self.aux = nn.Linear(out_dim, 2 * n_colours + n_patterns + 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        phi = self.pixel(F.avg_pool2d(x, 2))  # 2x2 averages: still local, four times cheaper
        h, w = phi.shape[-2:]
        ys = torch.linspace(-1, 1, h, device=x.device).view(1, 1, h, 1)
        xs = torch.linspace(-1, 1, w, device=x.device).view(1, 1, 1, w)
        pooled = torch.cat(
            [phi.mean((2, 3)), (phi * xs).mean((2, 3)), (phi * ys).mean((2, 3))], dim=1
        )
        return self.mlp(pooled)


class NaturalNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.tower = ConvTower(NATURAL_DIM)
        self.head = nn.Linear(NATURAL_DIM, len(scenes.SHAPES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.tower(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def random_orthogonal(dim: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(dim, dim, generator=generator, dtype=torch.float64))
    return (q * torch.sign(torch.diagonal(r))).float()  # sign fix: a unique, seeded Q


class BlockClassifier(nn.Module):
    """Penultimate = Q [logits | (hidden) | nuisance]; head W = [I | 0] Q^T (see module doc)."""

    def __init__(self, shape_net: ShapeNet, nuisance_net: NuisanceNet, leaky: bool, mix_seed: int):
        super().__init__()
        self.shape_net, self.nuisance_net, self.leaky = shape_net, nuisance_net, leaky
        n_classes = len(scenes.SHAPES)
        dim = n_classes + (SHAPE_HIDDEN if leaky else 0) + NUISANCE_DIM
        self.register_buffer("mix", random_orthogonal(dim, mix_seed))
        self.head = nn.Linear(dim, n_classes)
        with torch.no_grad():
            read_logits = torch.zeros(n_classes, dim)
            read_logits[:, :n_classes] = torch.eye(n_classes)
            self.head.weight.copy_(read_logits @ self.mix.T)
            self.head.bias.zero_()

    def blocks(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.shape_net.hidden(x)
        parts = [self.shape_net.logits(hidden)]
        if self.leaky:
            parts.append(hidden)
        parts.append(self.nuisance_net(x))
        return torch.cat(parts, dim=1)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x) @ self.mix.T

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
