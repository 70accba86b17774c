"""Where weights come from: a local file, or a URL fetched once into the cache directory.

Nothing here requires the network: a cached file is used as is, and a failed download says how to
provide the file by hand. The cache is `$POSEKIT_CACHE` or `~/.cache/posekit`.
"""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from posekit.core.errors import CheckpointError
from posekit.core.io import atomic_path


def cache_dir() -> Path:
    return Path(os.environ.get("POSEKIT_CACHE", Path.home() / ".cache" / "posekit"))


def resolve_weights(spec: str | os.PathLike) -> Path:
    """A local path, or an http(s)/file URL downloaded (once) into the cache."""
    spec = str(spec)
    scheme = urlparse(spec).scheme
    if scheme not in ("http", "https", "file"):
        path = Path(spec)
        if not path.is_file():
            raise CheckpointError(f"weights file {path} does not exist: check the path")
        return path
    target = cache_dir() / Path(urlparse(spec).path).name
    if target.is_file():
        return target
    try:
        with urllib.request.urlopen(spec, timeout=30) as response, atomic_path(target) as tmp:
            with open(tmp, "wb") as f:
                while chunk := response.read(1 << 20):
                    f.write(chunk)
    except OSError as e:
        raise CheckpointError(f"cannot download {spec} ({e.__class__.__name__}): download it by hand and "
                              f"pass the local path, or place it at {target}") from None
    return target
