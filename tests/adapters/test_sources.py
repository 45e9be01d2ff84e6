"""One Source object per source: what the spec, validate, the run records and `singaudit models`
ask of a source, each asked of the same object; the calibration world comes in through entry
points like any plugin."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

from singaudit.adapters import sources
from singaudit.adapters.classifiers.catalogue import all_presets
from singaudit.adapters.resolution import check_id
from singaudit.adapters.sources import (
    CLASSIFIER_SOURCES,
    DATA_SOURCES,
    JOINT_SPACE_SOURCES,
    Source,
    get_source,
    sources_of,
)
from singaudit.registry import Registry, load_object


@pytest.mark.parametrize("group", sorted(sources.ENTRY_POINT_GROUPS))
def test_each_source_is_one_object_named_by_its_prefix_with_a_loader(group):
    registry = sources.ENTRY_POINT_GROUPS[group]
    found = sources_of(registry)
    assert [s.name for s in found] != [] and len(found) == len(registry)
    for source in found:
        assert isinstance(source, Source) and source.name in registry
        assert isinstance(source.loader, str), source  # imported only by a load
        assert callable(load_object(source.loader))


def test_the_calibration_world_is_registered_through_entry_points_only():
    for group, registry in sources.ENTRY_POINT_GROUPS.items():
        declared = {e.name: e.value for e in entry_points(group=group)}
        assert declared["calibration"].startswith("singaudit.adapters.calibration_sources:")
        assert get_source(registry, "calibration") is load_object(declared["calibration"])
    built_in = [name for _, names in sources._BUILT_IN.values() for name in names]
    assert "calibration" not in built_in


def test_identity_is_told_only_by_sources_whose_content_is_known(tmp_path):
    scenes = get_source(DATA_SOURCES, "calibration")
    assert scenes.identity("audit", {"scenes": 6}) == {"id": "calibration:audit",
                                                       "options": {"scenes": 6}}
    classifiers = get_source(CLASSIFIER_SOURCES, "calibration")
    assert classifiers.identity("leaky", {}) is not None
    assert classifiers.identity("lite0_clean", {}) is None  # another distribution's weights
    assert classifiers.identity("leaky", {"weights_dir": str(tmp_path / "absent")}) is None
    (tmp_path / "leaky.safetensors").write_bytes(b"one")
    with_weights = classifiers.identity("leaky", {"weights_dir": str(tmp_path)})
    (tmp_path / "leaky.safetensors").write_bytes(b"two")
    assert with_weights != classifiers.identity("leaky", {"weights_dir": str(tmp_path)})
    assert get_source(CLASSIFIER_SOURCES, "timm").identity("resnet50", {}) is None
    assert get_source(DATA_SOURCES, "folder").identity(str(tmp_path), {}) is None


def test_a_plain_loader_is_seen_as_a_source_that_only_loads():
    def load(ident, *, size=1):
        return ("plain", ident, size)

    registry: Registry = Registry("classifier source")
    registry.add("plain", load)
    source = get_source(registry, "plain")
    assert source.name == "plain" and source.loader is load
    assert source.load("x", size=3) == ("plain", "x", 3)
    assert source.accepted_options() == frozenset({"size"})
    assert source.problem("x", {}) is None and source.identity("x", {}) is None
    assert source.presets() == () and source.ids() == []
    assert check_id(registry, "plain:x", {}) is None
    assert check_id(registry, "absent:x", {}) is None  # an unknown source is the spec's error


def test_a_lazy_plain_loader_stays_unimported(tmp_path, monkeypatch):
    (tmp_path / "lazy_loader_module.py").write_text(
        "raise ImportError('imported')\ndef load(ident, *, size=1): ...\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: Registry = Registry("data source")
    registry.add("lazy", "lazy_loader_module:load")
    source = get_source(registry, "lazy")
    assert source.loader == "lazy_loader_module:load"
    assert source.accepted_options() == frozenset({"size"})  # read from the file
    assert get_source(DATA_SOURCES, "calibration").accepted_options() == frozenset(
        {"split", "scenes", "scene_seed"})


def test_presets_come_from_their_sources_in_the_papers_order():
    presets = all_presets()
    by_source = {p.id.partition(":")[0] for p in presets}
    assert by_source == {"torchvision", "hook", "timm", "hf", "calibration"}
    for preset in presets:
        source = get_source(CLASSIFIER_SOURCES, preset.id.partition(":")[0])
        assert preset in source.presets()
    names = [p.name for p in presets]
    assert names.index("eva02_large") == 12 and names.index("efficientnet_lite0") == 13
    assert names[14:] == [p.name for p in get_source(CLASSIFIER_SOURCES, "calibration").presets()]


def test_source_specific_words_live_on_the_source():
    scenes = get_source(DATA_SOURCES, "calibration")
    assert "'scene_seed'" in scenes.moved_options["seed"]
    assert "class_names" in get_source(DATA_SOURCES, "list").moved_options["classes"]
    assert get_source(JOINT_SPACE_SOURCES, "calibration").vocabulary == "calibration"
    assert get_source(JOINT_SPACE_SOURCES, "open_clip").vocabulary is None
    assert "did you mean 'leaky'" in (get_source(CLASSIFIER_SOURCES, "calibration")
                                      .problem("leakyy", {}) or "")
