"""Real architectures with random weights, written once per session to local files."""

from __future__ import annotations

import json
import os

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from singaudit.io.state_dicts import save_state_dict


@pytest.fixture(autouse=True)
def one_torch_thread():
    """One intra-op thread: on a shared 2-core machine two threads spin against each other
    (an SVD of 1000x1280 took 12 s wall with 2 threads, 0.9 s with 1)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def weights_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("weights")


@pytest.fixture(scope="session")
def timm_weights(weights_dir):
    """name -> safetensors file of a randomly initialised timm model (built on first use)."""
    import timm

    built: dict[str, object] = {}

    def build(name: str, **kwargs):
        if name not in built:
            torch.manual_seed(0)
            model = timm.create_model(name, pretrained=False, **kwargs)
            path = weights_dir / f"timm-{name}.safetensors"
            save_state_dict(model.state_dict(), path)
            built[name] = path
        return built[name]

    return build


@pytest.fixture(scope="session")
def torchvision_weights(weights_dir):
    import torchvision

    built: dict[str, object] = {}

    def build(name: str, suffix: str = ".safetensors", **kwargs):
        if name not in built:
            torch.manual_seed(0)
            model = torchvision.models.get_model(name, weights=None, **kwargs)
            path = weights_dir / f"tv-{name}{suffix}"
            if suffix == ".safetensors":
                save_state_dict(model.state_dict(), path)
            else:
                torch.save(model.state_dict(), path)
            built[name] = path
        return built[name]

    return build


@pytest.fixture(scope="session")
def clip_tokenizer_files(weights_dir):
    """vocab.json + merges.txt of OpenAI CLIP's BPE, rebuilt from open_clip's bundled vocabulary."""
    from open_clip.tokenizer import SimpleTokenizer

    simple = SimpleTokenizer()
    specials = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}
    vocab = {specials.get(token, token): index for token, index in simple.encoder.items()}
    folder = weights_dir / "clip-bpe"
    folder.mkdir(exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    merges = sorted(simple.bpe_ranks.items(), key=lambda item: item[1])
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(" ".join(pair) for pair, _ in merges) + "\n"
    )
    return folder / "vocab.json", folder / "merges.txt", len(vocab)
