"""Keypoint sets as data: names, flip pairs, OKS sigmas, links and colours.

Built-in: COCO-17, CrowdPose-14, AIC-14 and OCHuman (the COCO-17 layout). A custom set is read
from YAML with `load_skeleton(path)`, which checks it and says exactly what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from posekit.core.errors import ConfigError

LEFT_COLOUR = (0, 255, 0)
RIGHT_COLOUR = (255, 128, 0)
CENTRE_COLOUR = (51, 153, 255)


@dataclass(frozen=True)
class Skeleton:
    name: str
    keypoints: tuple[str, ...]
    flip_pairs: tuple[tuple[int, int], ...]
    sigmas: tuple[float, ...]
    links: tuple[tuple[int, int], ...]

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoints)

    @property
    def flip_indices(self) -> list[int]:
        """Index of each keypoint's mirror image (itself for centre keypoints)."""
        indices = list(range(self.num_keypoints))
        for a, b in self.flip_pairs:
            indices[a], indices[b] = b, a
        return indices

    @property
    def sigmas_array(self) -> np.ndarray:
        return np.asarray(self.sigmas, dtype=np.float64)

    def side(self, index: int) -> str:
        name = self.keypoints[index]
        return "left" if name.startswith("left") else "right" if name.startswith("right") else "centre"

    @property
    def keypoint_colours(self) -> list[tuple[int, int, int]]:
        """RGB colour per keypoint: left green, right orange, centre blue (MMPose's scheme)."""
        by_side = {"left": LEFT_COLOUR, "right": RIGHT_COLOUR, "centre": CENTRE_COLOUR}
        return [by_side[self.side(i)] for i in range(self.num_keypoints)]

    @property
    def link_colours(self) -> list[tuple[int, int, int]]:
        sides = [{self.side(a), self.side(b)} for a, b in self.links]
        by_side = {"left": LEFT_COLOUR, "right": RIGHT_COLOUR}
        return [by_side[s.pop()] if len(s) == 1 and "centre" not in s else CENTRE_COLOUR for s in sides]

    def coco_category(self, category_id: int = 1, name: str = "person") -> dict:
        """The COCO `categories` entry; COCO numbers skeleton links from 1."""
        return {"id": category_id, "name": name, "supercategory": name,
                "keypoints": list(self.keypoints), "skeleton": [[a + 1, b + 1] for a, b in self.links]}


_COCO_NAMES = ("nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
               "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
               "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")
_COCO_LINKS = ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12), (5, 6), (5, 7),
               (6, 8), (7, 9), (8, 10), (1, 2), (0, 1), (0, 2), (1, 3), (2, 4), (3, 5), (4, 6))
_COCO_SIGMAS = (.026, .025, .025, .035, .035, .079, .079, .072, .072, .062, .062, .107, .107, .087,
                .087, .089, .089)

_CROWDPOSE_NAMES = ("left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                    "right_wrist", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle",
                    "right_ankle", "top_head", "neck")
_CROWDPOSE_LINKS = ((10, 8), (8, 6), (11, 9), (9, 7), (6, 7), (0, 6), (1, 7), (0, 1), (0, 2), (1, 3),
                    (2, 4), (3, 5), (12, 13), (1, 13), (0, 13))
_CROWDPOSE_SIGMAS = (.079, .079, .072, .072, .062, .062, .107, .107, .087, .087, .089, .089, .079, .079)

_AIC_NAMES = ("right_shoulder", "right_elbow", "right_wrist", "left_shoulder", "left_elbow",
              "left_wrist", "right_hip", "right_knee", "right_ankle", "left_hip", "left_knee",
              "left_ankle", "head_top", "neck")
_AIC_LINKS = ((2, 1), (1, 0), (0, 13), (13, 3), (3, 4), (4, 5), (8, 7), (7, 6), (6, 9), (9, 10),
              (10, 11), (12, 13), (0, 6), (3, 9))
_AIC_SIGMAS = (0.01388152, 0.01515228, 0.01057665, 0.01417709, 0.01497891, 0.01402144, 0.03909642,
               0.03686941, 0.01981803, 0.03843971, 0.03412318, 0.02415081, 0.01291456, 0.01236173)


def _mirror_pairs(names) -> tuple[tuple[int, int], ...]:
    index = {n: i for i, n in enumerate(names)}
    return tuple((i, index["right" + n[4:]]) for i, n in enumerate(names)
                 if n.startswith("left") and "right" + n[4:] in index)


def _builtin(name, names, links, sigmas) -> Skeleton:
    return Skeleton(name, names, _mirror_pairs(names), sigmas, links)


SKELETONS: dict[str, Skeleton] = {
    "coco": _builtin("coco", _COCO_NAMES, _COCO_LINKS, _COCO_SIGMAS),
    "crowdpose": _builtin("crowdpose", _CROWDPOSE_NAMES, _CROWDPOSE_LINKS, _CROWDPOSE_SIGMAS),
    "aic": _builtin("aic", _AIC_NAMES, _AIC_LINKS, _AIC_SIGMAS),
    "ochuman": _builtin("ochuman", _COCO_NAMES, _COCO_LINKS, _COCO_SIGMAS),
}

# AIC-14 -> COCO-17 index pairs (aic, coco), as MMPose's KeypointConverter maps them.
AIC_TO_COCO = ((0, 6), (1, 8), (2, 10), (3, 5), (4, 7), (5, 9), (6, 12), (7, 14), (8, 16), (9, 11),
               (10, 13), (11, 15))


def get_skeleton(name_or_path: str | Skeleton) -> Skeleton:
    """A built-in skeleton by name, or a custom one from a YAML path."""
    if isinstance(name_or_path, Skeleton):
        return name_or_path
    if name_or_path in SKELETONS:
        return SKELETONS[name_or_path]
    if str(name_or_path).endswith((".yaml", ".yml")):
        return load_skeleton(name_or_path)
    raise ConfigError(f"unknown skeleton '{name_or_path}': use one of {sorted(SKELETONS)} "
                      f"or a path to a skeleton YAML file")


def load_skeleton(path: str | Path) -> Skeleton:
    """Read and check a custom skeleton YAML.

    Fields: `name`, `keypoints` (list of names), `flip_pairs` (pairs of names or indices),
    `sigmas` (one per keypoint; default 1/K each as Ultralytics does), `links` (pairs).
    """
    import yaml

    path = Path(path)
    try:
        spec = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"skeleton file {path} does not exist: check the path") from None
    except yaml.YAMLError as e:
        reason = " ".join(str(e).split())  # YAML errors span lines; messages are one line
        raise ConfigError(f"skeleton file {path} is not valid YAML ({reason}): fix its syntax") from None
    if not isinstance(spec, dict):
        raise ConfigError(f"skeleton file {path} must be a mapping with 'keypoints', 'flip_pairs', "
                          f"'sigmas' and 'links'")
    return skeleton_from_dict(spec, source=str(path))


def skeleton_from_dict(spec: dict, source: str = "skeleton") -> Skeleton:
    unknown = set(spec) - {"name", "keypoints", "flip_pairs", "sigmas", "links"}
    if unknown:
        raise ConfigError(f"{source}: unknown field(s) {sorted(unknown)}; allowed: name, keypoints, "
                          f"flip_pairs, sigmas, links")
    names = spec.get("keypoints")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise ConfigError(f"{source}: 'keypoints' must be a non-empty list of names")
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ConfigError(f"{source}: keypoint names must be unique, repeated: {dup}")
    k = len(names)

    def as_index(item, field):
        if isinstance(item, str):
            if item not in names:
                raise ConfigError(f"{source}: '{field}' names '{item}', which is not a keypoint")
            return names.index(item)
        if isinstance(item, int) and 0 <= item < k:
            return item
        raise ConfigError(f"{source}: '{field}' entry {item!r} is neither a keypoint name nor an "
                          f"index in 0..{k - 1}")

    def pairs(field):
        raw = spec.get(field) or []
        if not all(isinstance(p, (list, tuple)) and len(p) == 2 for p in raw):
            raise ConfigError(f"{source}: '{field}' must be a list of pairs")
        return tuple((as_index(a, field), as_index(b, field)) for a, b in raw)

    flip_pairs = pairs("flip_pairs")
    seen = [i for p in flip_pairs for i in p]
    if len(seen) != len(set(seen)):
        raise ConfigError(f"{source}: a keypoint appears in more than one flip pair")
    for a, b in flip_pairs:
        na, nb = names[a], names[b]
        if _side_swapped(na) != nb:
            raise ConfigError(f"{source}: flip pair ({na}, {nb}) does not join a left_x with its "
                              f"right_x: pair each left keypoint with its right twin")
    paired = set(seen)
    for i, n in enumerate(names):
        if _side_swapped(n) in names and i not in paired:
            raise ConfigError(f"{source}: '{n}' has a mirror '{_side_swapped(n)}' but no flip pair: "
                              f"add [{n}, {_side_swapped(n)}] to flip_pairs")
    sigmas = spec.get("sigmas")
    if sigmas is None:
        sigmas = [1.0 / k] * k
    if not isinstance(sigmas, list) or len(sigmas) != k:
        got = len(sigmas) if isinstance(sigmas, list) else type(sigmas).__name__
        raise ConfigError(f"{source}: 'sigmas' needs one value per keypoint ({k}), got {got}")
    if not all(isinstance(s, (int, float)) and s > 0 for s in sigmas):
        raise ConfigError(f"{source}: every sigma must be a positive number")
    return Skeleton(str(spec.get("name", source)), tuple(names), flip_pairs,
                    tuple(float(s) for s in sigmas), pairs("links"))


def _side_swapped(name: str) -> str | None:
    for a, b in (("left", "right"), ("right", "left")):
        if name.startswith(a):
            return b + name[len(a):]
    return None
