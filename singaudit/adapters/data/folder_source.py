"""``folder:/path/to/root``: one subfolder per class (ImageNet wnid folders get class names).

Option: ``recursive`` (images below each class folder too). Images directly in the root (no
class subfolders) are unlabelled (label -1). The source lists every image; which classes and how
many images per class are audited is the spec's ``data`` section.
"""

from __future__ import annotations

from pathlib import Path

from singaudit.adapters.data._imagenet import imagenet_wnid_to_name
from singaudit.adapters.data._images import IMAGE_EXTENSIONS, FileImageSource, labelled_source
from singaudit.errors import DataError


def load(ident: str, *, recursive: bool = True) -> FileImageSource:
    """An image folder as an ImageSource."""
    root = Path(ident).expanduser()
    if not root.is_dir():
        raise DataError(f"folder:{ident}: no such folder {root}")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    items: list[tuple[str, Path, int]] = []
    for label, folder in enumerate(folders):
        for path in _images_in(folder, recursive):
            items.append((str(path), path, label))
    class_names = _class_names([p.name for p in folders])
    if not folders:
        items = [(str(p), p, -1) for p in _images_in(root, False)]
    if not items:
        raise DataError(
            f"folder:{ident} contains no images ({', '.join(sorted(IMAGE_EXTENSIONS))})"
        )
    return labelled_source(f"folder:{ident}", class_names, items)


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    paths = folder.rglob("*") if recursive else folder.iterdir()
    return sorted(
        p
        for p in paths
        if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file() and not p.name.startswith(".")
    )


def _class_names(folder_names: list[str]) -> list[str]:
    """Folder names, with ImageNet wnids (n01440764) replaced by their class names."""
    table = imagenet_wnid_to_name()
    if folder_names and all(name in table for name in folder_names):
        return [table[name] for name in folder_names]
    return folder_names
