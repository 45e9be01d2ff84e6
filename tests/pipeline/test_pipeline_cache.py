import torch

from singaudit.cache import ENV_VAR, default_cache_dir
from singaudit.cache.tensors import FeatureCache, make_key


def test_roundtrip_ls_and_clear(tmp_path):
    cache = FeatureCache(tmp_path)
    values = torch.arange(12.0).reshape(4, 3)
    key = make_key(model="m", images=["h1", "h2"])
    assert cache.load("features", key) is None
    cache.save("features", key, {"values": values}, {"model": "m"})
    tensors, meta = cache.load("features", key, rows=4)
    assert torch.equal(tensors["values"], values) and meta["model"] == "m"
    cache.save("text", make_key(prompts=["a"]), {"values": values[:1]})
    assert sorted(e.namespace for e in cache.entries()) == ["features", "text"]
    assert [e.key for e in cache.entries("features")] == [key]
    assert cache.clear("text")[0] == 1
    removed, freed = cache.clear()
    assert removed == 1 and freed > 0 and cache.entries() == []


def test_keys_depend_on_every_part():
    base = {"model": "m", "weights": "w", "preprocessing": "p", "images": ["a", "b"]}
    assert make_key(**base) == make_key(**dict(reversed(list(base.items()))))
    for part, other in [("weights", "w2"), ("preprocessing", "p2"), ("images", ["b", "a"])]:
        assert make_key(**{**base, part: other}) != make_key(**base)


def test_corrupt_entries_are_detected_and_removed(tmp_path):
    cache = FeatureCache(tmp_path)
    values = torch.ones(3, 2)
    for name, damage in {
        "garbage": lambda path: path.write_bytes(b"not a safetensors file"),
        "truncated": lambda path: path.write_bytes(path.read_bytes()[:-5]),
        "flipped": lambda path: path.write_bytes(path.read_bytes()[:-4] + b"\x00\x00\x80\x7f"),
    }.items():
        key = make_key(case=name)
        path = cache.save("features", key, {"values": values})
        damage(path)
        assert cache.load("features", key) is None, name
        assert not path.exists()
    key = make_key(case="rows")
    cache.save("features", key, {"values": values})
    assert cache.load("features", key, rows=5) is None  # wrong shape
    assert cache.corrupt_removed == 4


def test_cache_folder_override(monkeypatch, tmp_path):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    assert FeatureCache().root == tmp_path / "elsewhere"
    monkeypatch.delenv(ENV_VAR)
    assert "singaudit" in str(default_cache_dir())
