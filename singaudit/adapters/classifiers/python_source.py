"""User code as a classifier: ``python:package.module:function``.

The named factory (and only it) is imported and called with the source's options as keyword
arguments. It returns either

- a ``singaudit.adapters.classifiers.base.Classifier``, used as is, or
- an ``nn.Module`` plus its head: a tuple ``(module, head_path)`` or a mapping with keys
  ``module`` and ``head`` and optionally ``token`` ("cls", "mean", "patch_mean"),
  ``preprocessing`` (a ``Preprocessing``) and ``class_names``; it is then read like ``hook:``
  (features = the head's input, checked once against the model's logits).

The package must be importable: installed, on ``PYTHONPATH``, or in the working folder (put on
``sys.path`` while the factory is imported, as pytest does with its rootdir). The contract, with
a worked example, is in examples/custom_model/README.md.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from singaudit.errors import SpecError, UnsupportedModel
from singaudit.registry import RegistryError, load_object

if TYPE_CHECKING:  # torch loads with the factory; `validate` reads load()'s signature without it
    from singaudit.adapters.classifiers.base import Classifier


def load(ident: str, **options: Any) -> Classifier:
    """Call the factory ``package.module:function`` with ``options`` and adapt what it returns."""
    working_folder = os.getcwd()
    added = working_folder not in sys.path
    if added:
        sys.path.insert(0, working_folder)
    try:
        factory = load_object(ident.strip())
    except RegistryError as error:
        raise SpecError(f"python:{ident}: {error} (looked in the working folder "
                        f"{working_folder} and on PYTHONPATH)") from None
    finally:
        if added and working_folder in sys.path:
            sys.path.remove(working_folder)
    if not callable(factory):
        raise SpecError(f"python:{ident} is not callable")
    from torch import nn

    from singaudit.adapters.classifiers.base import Classifier
    from singaudit.adapters.classifiers.hook_source import from_module

    made = factory(**options)
    name = f"python:{ident.strip()}"
    if isinstance(made, Classifier):
        classifier = made
    elif isinstance(made, tuple) and len(made) == 2 and isinstance(made[0], nn.Module):
        classifier = from_module(made[0], made[1], name=name, source=name)
    elif isinstance(made, Mapping) and isinstance(made.get("module"), nn.Module) and made.get("head"):
        classifier = from_module(
            made["module"],
            made["head"],
            name=name,
            token=made.get("token"),
            preprocessing=made.get("preprocessing"),
            class_names=made.get("class_names"),
            source=name,
        )
    else:
        raise UnsupportedModel(
            f"{name} returned {type(made).__name__}; a factory must return a Classifier, a tuple "
            "(module, head_path) or a mapping with 'module' and 'head'"
        )
    # Features depend on the factory's code, not only on the weights: its source file joins the
    # hash that keys cached features (the options join it in ``sources.load_classifier``).
    classifier.info.weights_hash = code_hash(classifier.info.weights_hash, factory)
    return classifier


def code_hash(weights_hash: str, factory: object) -> str:
    """sha256 (16 hex digits) of the weights hash and the factory's source file."""
    import hashlib
    import inspect

    try:
        source_file = inspect.getsourcefile(factory)  # type: ignore[arg-type]
    except TypeError:  # a builtin or C extension: no file to read
        return weights_hash
    if not source_file or not os.path.isfile(source_file):
        return weights_hash
    digest = hashlib.sha256(weights_hash.encode())
    with open(source_file, "rb") as handle:
        digest.update(handle.read())
    return digest.hexdigest()[:16]
