"""A source's options are checked against its loader's signature, read from the loader's source
without importing it (the source modules import torch); the reading matches the real one."""

from __future__ import annotations

import inspect

import pytest

from singaudit.adapters import sources
from singaudit.registry import load_object, source_signature

BUILT_IN = [(group, source.name, source.loader)
            for group, registry in sources.ENTRY_POINT_GROUPS.items()
            for source in sources.sources_of(registry) if isinstance(source.loader, str)]


def _shape(signature: inspect.Signature) -> list[tuple[str, inspect._ParameterKind]]:
    return [(p.name, p.kind) for p in signature.parameters.values()]


@pytest.mark.parametrize(("group", "name", "reference"), BUILT_IN,
                         ids=[f"{g.rpartition('.')[2]}:{n}" for g, n, _ in BUILT_IN])
def test_every_built_in_loader_reads_as_it_imports(group, name, reference):
    read = source_signature(reference)
    assert read is not None, reference
    assert _shape(read) == _shape(inspect.signature(load_object(reference)))


def test_what_cannot_be_read_from_source_is_left_to_the_import(tmp_path, monkeypatch):
    (tmp_path / "decorated_loaders.py").write_text(
        "import functools\n"
        "def plain(ident, *, size=1, **rest): ...\n"
        "@functools.cache\n"
        "def cached(ident, *, size=1): ...\n"
        "def rebound(ident, *, size=1): ...\n"
        "rebound = functools.partial(plain, size=2)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert _shape(source_signature("decorated_loaders:plain")) == [
        ("ident", inspect.Parameter.POSITIONAL_OR_KEYWORD),
        ("size", inspect.Parameter.KEYWORD_ONLY), ("rest", inspect.Parameter.VAR_KEYWORD)]
    assert source_signature("decorated_loaders:cached") is None
    assert source_signature("decorated_loaders:rebound") is None
    assert source_signature("decorated_loaders:missing") is None
    assert source_signature("no_such_module_anywhere:load") is None
