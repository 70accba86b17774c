"""The state-dict key lists measured from the official MMPose models (../shared/reference/mmpose_keys),
read as {key: shape}. Tests that use them skip where the shared reference is not on the machine."""

from pathlib import Path

KEYS_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "mmpose_keys"


def read_keys(name: str, prefix: str = "") -> dict[str, tuple[int, ...]]:
    """keys_{name}.txt -> {key without `prefix`: shape} for the keys that start with `prefix`."""
    keys = {}
    for line in (KEYS_DIR / f"keys_{name}.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#") and line.startswith(prefix):
            key, shape = line.split(" ", 1)
            keys[key[len(prefix):]] = tuple(int(n) for n in shape.strip("[]").split(",") if n.strip())
    return keys
