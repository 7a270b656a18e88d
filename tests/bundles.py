"""Helpers shared by the tests of the Gradescope bundle."""

from __future__ import annotations

import zipfile
from pathlib import Path


def unzip_like_unzip(bundle: Path, dest: Path) -> Path:
    """Extract as Info-ZIP's unzip does on Gradescope: with the permissions stored in the archive."""
    with zipfile.ZipFile(bundle) as archive:
        for info in archive.infolist():
            target = dest / info.filename
            mode = (info.external_attr >> 16) & 0o7777
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(archive.read(info))
            if mode:
                target.chmod(mode)
    return dest
