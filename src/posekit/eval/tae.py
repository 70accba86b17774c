"""Task Alignment Error (ER-Pose, Li et al. 2026, eq. 4-5): how far the predictions a dense model
actually keeps are from the best ones it produced, measured in OKS.

For one image with N people and A candidate predictions (every grid cell of a one-stage model):
1. optimal: the one-to-one matching of people to *all* candidates that maximises the summed OKS
   (eq. 4, an assignment problem: Hungarian, `scipy.optimize.linear_sum_assignment`);
2. selected: the same OKS-optimal one-to-one matching, but only over the candidates the model
   selects at inference (SAH's top-1 cells above the score threshold, or what survives NMS).
   A person left without a selected prediction (fewer selections than people) scores OKS 0;
3. TAE = mean over people of OKS(optimal) - OKS(selected) (eq. 5). 0 means the selection is the
   OKS-optimal one; 0.1 means it loses 10 % OKS per person on average.

Because the selected candidates are a subset of all candidates, each image's summed difference is
>= 0. Over a data set the mean is taken over all people (pooled), leaving out people without any
labelled keypoint (their OKS is undefined). OKS is COCO's (`posekit.core.geometry.oks`): areas are
the people's s^2 (the annotation area as in COCO evaluation, or the box area as in the paper's eq. 2:
the caller decides), sigmas the keypoint sigmas.

    per_image = [image_alignment(cands (A, K, 2), selected (S,), gt_kpts (N, K, 2), gt_vis (N, K),
                                 gt_areas (N,), sigmas (K,)) for ...]
    task_alignment_error(per_image)   # float
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np
from scipy.optimize import linear_sum_assignment

from posekit.core.errors import InputError
from posekit.core.geometry import oks


@dataclass
class ImageAlignment:
    """One image's people (N of them): optimal_oks / selected_oks (N,) float64; optimal_index /
    selected_index (N,) int64 into the candidates (-1: no prediction); labelled (N,) bool (people
    with at least one labelled keypoint, the ones TAE counts)."""

    optimal_oks: np.ndarray
    selected_oks: np.ndarray
    optimal_index: np.ndarray
    selected_index: np.ndarray
    labelled: np.ndarray

    @property
    def errors(self) -> np.ndarray:
        """OKS(optimal) - OKS(selected) per counted person, (N_labelled,)."""
        return (self.optimal_oks - self.selected_oks)[self.labelled]


def _best_matching(similarity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximum-weight one-to-one matching of rows (people) to columns (candidates).

    similarity (N, C) -> (index (N,) int64, -1 where unmatched; value (N,) float64, 0 where unmatched)
    """
    n = similarity.shape[0]
    index, value = np.full(n, -1, dtype=np.int64), np.zeros(n, dtype=np.float64)
    if n and similarity.shape[1]:
        rows, cols = linear_sum_assignment(similarity, maximize=True)
        index[rows], value[rows] = cols, similarity[rows, cols]
    return index, value


def image_alignment(candidates, selected, gt_keypoints, gt_visible, gt_areas, sigmas) -> ImageAlignment:
    """Per-person optimal and selected OKS of one image (eq. 4-5).

    candidates (A, K, 2) every prediction of the dense head, in the ground truth's pixels;
    selected (S,) indices of the candidates the model keeps (int) or an (A,) bool mask;
    gt_keypoints (N, K, 2); gt_visible (N, K) (labelled = > 0); gt_areas (N,) s^2; sigmas (K,).
    """
    candidates = np.asarray(candidates, dtype=np.float64)
    gt_keypoints = np.asarray(gt_keypoints, dtype=np.float64)
    if candidates.ndim != 3 or candidates.shape[-1] != 2:
        raise InputError(f"candidates have shape {candidates.shape}: pass every prediction as (A, K, 2)")
    k = candidates.shape[1]
    gt_keypoints = gt_keypoints.reshape(-1, k, 2) if gt_keypoints.size else np.zeros((0, k, 2))
    n = len(gt_keypoints)
    labelled = np.asarray(gt_visible).reshape(n, k) > 0
    selected = np.asarray(selected)
    if selected.dtype == bool:
        if selected.shape != (len(candidates),):
            raise InputError(f"selected mask has shape {selected.shape}: it must be ({len(candidates)},), "
                             f"one flag per candidate")
        selected = np.flatnonzero(selected)
    selected = selected.astype(np.int64).reshape(-1)
    if len(selected) and (selected.min() < 0 or selected.max() >= len(candidates)):
        raise InputError(f"selected indices must lie in [0, {len(candidates)}): got {selected.min()}..{selected.max()}")

    similarity = oks(candidates, gt_keypoints, labelled, np.asarray(gt_areas, dtype=np.float64).reshape(n),
                     np.asarray(sigmas, dtype=np.float64)).T  # (N, A)
    optimal_index, optimal_oks = _best_matching(similarity)
    chosen, selected_oks = _best_matching(similarity[:, selected])
    selected_index = np.where(chosen >= 0, selected[chosen.clip(min=0)] if len(selected) else -1, -1)
    return ImageAlignment(optimal_oks, selected_oks, optimal_index, selected_index.astype(np.int64),
                          labelled.any(-1))


def task_alignment_error(images: Iterable[ImageAlignment]) -> float:
    """TAE of a data set: mean over all counted people of OKS(optimal) - OKS(selected); 0.0 when
    there are no people."""
    errors = [im.errors for im in images]
    errors = np.concatenate(errors) if errors else np.zeros(0)
    return float(errors.mean()) if len(errors) else 0.0
