import sys
import textwrap

import pytest
import torch
from adapter_helpers import assert_logits_match, images
from torch import nn

from singaudit.adapters.classifiers.base import Classifier
from singaudit.adapters.sources import load_classifier
from singaudit.errors import SpecError, UnsupportedModel


class TinyViT(nn.Module):
    """Patch tokens plus a class token, a transformer layer, then a per-token linear head."""

    def __init__(self, dim: int = 16, classes: int = 5) -> None:
        super().__init__()
        self.patch = nn.Conv2d(3, dim, 8, 8)
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        self.block = nn.TransformerEncoderLayer(dim, 2, 32, batch_first=True, dropout=0.0)
        self.head = nn.Linear(dim, classes)

    def forward(self, x):
        tokens = self.patch(x).flatten(2).transpose(1, 2)
        tokens = torch.cat([self.cls.expand(len(x), -1, -1), tokens], dim=1)
        return self.head(self.block(tokens))  # (n, tokens, classes)


class ConvHeadNet(nn.Module):
    """Global pooling kept 4-D, then a 1x1 convolution as the classifier."""

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, 12, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1))
        self.classifier = nn.Sequential(nn.Dropout(0.1), nn.Conv2d(12, 4, 1), nn.Flatten())

    def forward(self, x):
        return self.classifier(self.body(x))


def small_cnn(head: nn.Module) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), head
    )


@pytest.mark.parametrize("token", ["cls", "mean", "patch_mean"])
def test_token_outputs_with_a_selector(token):
    torch.manual_seed(0)
    classifier = load_classifier("hook:tinyvit", module=TinyViT(), head="head", token=token)
    assert classifier.info.feature_dim == 16
    assert_logits_match(classifier, images(2, 32))


def test_a_token_selector_keys_features_apart_from_the_same_weights():
    # Same weights, another token: other features, so another hash keys their cache entries.
    def hashed(token):
        torch.manual_seed(0)
        return load_classifier("hook:tinyvit", module=TinyViT(), head="head",
                               token=token).info.weights_hash

    assert hashed("cls") == hashed("cls") != hashed("mean")


def test_token_outputs_without_a_selector_are_refused():
    with pytest.raises(UnsupportedModel, match="token selector"):
        load_classifier("hook:tinyvit", module=TinyViT(), head="head")


def test_one_by_one_conv_head_is_flattened():
    torch.manual_seed(0)
    classifier = load_classifier("hook:convhead", module=ConvHeadNet(), head="classifier")
    weight, bias = classifier.head()
    assert weight.shape == (4, 12) and bias.shape == (4,)
    assert_logits_match(classifier, images(3, 32))


def test_head_norm_belongs_to_the_features():
    torch.manual_seed(0)
    module = small_cnn(nn.Sequential(nn.LayerNorm(8), nn.Linear(8, 3)))
    classifier = load_classifier("hook:normhead", module=module, head="4")
    with torch.inference_mode():
        features = classifier.features(images(4, 32))
    assert features.mean(dim=1).abs().max() < 1e-5  # taken after the LayerNorm
    assert_logits_match(classifier, images(4, 32))


def test_nonlinear_head_is_refused_with_the_reason():
    module = small_cnn(nn.Sequential(nn.Linear(8, 3), nn.Softplus()))
    with pytest.raises(UnsupportedModel, match="Softplus"):
        load_classifier("hook:bad", module=module, head="4")


def test_two_averaged_heads_are_read_exactly():
    class TwoHeads(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = small_cnn(nn.Identity())
            self.head, self.head_dist = nn.Linear(8, 3), nn.Linear(8, 3)

        def forward(self, x):
            f = self.body(x)
            return (self.head(f) + self.head_dist(torch.tanh(f))) / 2

    torch.manual_seed(0)
    classifier = load_classifier("hook:two", module=TwoHeads(), head=["head", "head_dist"])
    assert classifier.info.feature_dim == 16
    assert_logits_match(classifier, images(2, 32))


def test_unknown_head_path_lists_the_modules():
    with pytest.raises(UnsupportedModel, match="top-level modules are: patch, block, head"):
        load_classifier("hook:x", module=TinyViT(), head="fc", token="cls")


def test_python_factory_protocols(tmp_path, monkeypatch):
    (tmp_path / "my_models.py").write_text(
        textwrap.dedent("""
        import torch
        from torch import nn

        def net(classes=3):
            torch.manual_seed(0)
            body = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                                 nn.Flatten(), nn.Linear(8, classes))
            return body, "4"

        def as_mapping():
            module, head = net(2)
            return {"module": module, "head": head, "class_names": ["cat", "dog"]}

        def wrong():
            return 42
    """)
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    classifier = load_classifier("python:my_models:net", classes=6)
    assert isinstance(classifier, Classifier) and classifier.info.num_classes == 6
    assert classifier.info.id == "python:my_models:net"
    assert_logits_match(classifier, images(2, 32))
    named = load_classifier("python:my_models:as_mapping")
    assert named.info.class_names == ["cat", "dog"]
    with pytest.raises(UnsupportedModel, match="returned int"):
        load_classifier("python:my_models:wrong")
    with pytest.raises(SpecError, match="no attribute"):
        load_classifier("python:my_models:absent")
    sys.modules.pop("my_models", None)


def test_logits_transformed_after_the_head_are_caught_by_the_check():
    class SquashedLogits(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = small_cnn(nn.Identity())
            self.fc = nn.Linear(8, 3)

        def forward(self, x):
            return torch.tanh(self.fc(self.body(x)) * 5)

    torch.manual_seed(0)
    with pytest.raises(UnsupportedModel, match="does not reproduce the model's logits"):
        load_classifier("hook:squashed", module=SquashedLogits(), head="fc")


def test_python_factory_identity_follows_its_options_and_code(tmp_path, monkeypatch):
    # An option that changes the features but not the weights (a scale applied in forward) must
    # change the hash that keys cached features, and so must an edit of the factory's file.
    module_file = tmp_path / "scaled_models.py"
    code = textwrap.dedent("""
        import torch
        from torch import nn

        class Scaled(nn.Module):
            def __init__(self, scale):
                super().__init__()
                torch.manual_seed(0)
                self.body = nn.Sequential(nn.Conv2d(3, 8, 3, 2), nn.ReLU(),
                                          nn.AdaptiveAvgPool2d(1), nn.Flatten())
                self.head = nn.Linear(8, 3)
                self.scale = scale

            def forward(self, x):
                return self.head(self.body(x) * self.scale)

        def net(scale=1.0):
            return Scaled(scale), "head"
    """)
    module_file.write_text(code)
    monkeypatch.syspath_prepend(str(tmp_path))
    hashes = {scale: load_classifier("python:scaled_models:net", scale=scale).info.weights_hash
              for scale in (1.0, 2.0)}
    assert hashes[1.0] != hashes[2.0]
    assert load_classifier("python:scaled_models:net", scale=1.0).info.weights_hash == hashes[1.0]
    module_file.write_text(code + "\n# an edit\n")
    assert load_classifier("python:scaled_models:net", scale=1.0).info.weights_hash != hashes[1.0]
    sys.modules.pop("scaled_models", None)
