"""COCO-style keypoint AP/AR, number for number as pycocotools and xtcocotools compute it, vectorised.

Protocols are data (`PROTOCOLS`):

- ``coco`` and ``ochuman``: pycocotools 2.0.11 ``COCOeval(gt, dt, 'keypoints')`` (COCO-17 sigmas).
- ``crowdpose``: xtcocotools 1.14.3 ``COCOeval(gt, dt, 'keypoints_crowd', sigmas, use_area=False)``:
  GT area = bbox w * h * 0.53 for the OKS scale and the area ranges, results whose keypoint scores
  are all <= 0 dropped, and AP easy/medium/hard re-accumulated on the images split by `crowdIndex`.

The steps, each vectorised over people; Python loops run only over detection ranks (<= 20),
categories, area ranges and thresholds:

1. rank: results sorted per (category, image) by score, ties in file order (pycocotools'
   mergesort), cut to the top 20;
2. OKS for every (result, GT) pair of the same image and category, as one flat pair list, but for
   the pairs a box bound proves too far apart to match;
3. greedy matching, one detection rank at a time, all images, area ranges and OKS thresholds at once;
4. accumulate: cumulative TP/FP per category, precision interpolated at 101 recall points, read
   off the true positives alone;
5. summarize: the named statistics.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posekit.core.errors import ConfigError, InputError
from posekit.eval.inputs import GroundTruth, Results, load_ground_truth, load_results

# pycocotools' Params.setKpParams, computed the same way so that every float is the same.
OKS_THRESHOLDS = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
RECALL_THRESHOLDS = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
AREA_RANGES = {"all": (0 ** 2, 1e5 ** 2), "medium": (32 ** 2, 96 ** 2), "large": (96 ** 2, 1e5 ** 2)}
MAX_DETS = 20
CROWD_SPLIT = (0.2, 0.8)  # xtcocotools: easy if crowdIndex < 0.2, medium if < 0.8, else hard
CROWD_LEVELS = ("AP_easy", "AP_medium", "AP_hard")

# (name, "ap" | "ar", OKS threshold or None for the mean over .50:.95, area range)
COCO_STATS = (("AP", "ap", None, "all"), ("AP50", "ap", .5, "all"), ("AP75", "ap", .75, "all"),
              ("APm", "ap", None, "medium"), ("APl", "ap", None, "large"),
              ("AR", "ar", None, "all"), ("AR50", "ar", .5, "all"), ("AR75", "ar", .75, "all"),
              ("ARm", "ar", None, "medium"), ("ARl", "ar", None, "large"))
CROWDPOSE_STATS = COCO_STATS[:3] + COCO_STATS[5:8]

# Default sigmas exactly as the reference tools build them (x / 10.0 is not always the literal x/10).
COCO_SIGMAS = tuple((np.array([.26, .25, .25, .35, .35, .79, .79, .72, .72, .62, .62, 1.07, 1.07,
                               .87, .87, .89, .89]) / 10.0).tolist())
CROWDPOSE_SIGMAS = tuple((np.array([.79, .79, .72, .72, .62, .62, 1.07, 1.07, .87, .87, .89, .89,
                                    .79, .79]) / 10.0).tolist())


@dataclass(frozen=True)
class Protocol:
    """How one reference tool evaluates keypoints; every difference between the tools is a field."""

    name: str
    replicates: str                 # the tool and call whose numbers this protocol reproduces
    sigmas: tuple[float, ...]       # default OKS sigmas, one per keypoint
    stats: tuple
    box_area: bool = False          # GT area = bbox w*h*0.53 (xtcocotools use_area=False), else `area`
    drop_unscored: bool = False     # drop results whose keypoint scores are all <= 0 (xtcocotools)
    crowd_split: bool = False       # add AP_easy/medium/hard by image `crowdIndex`, rounded to 4 places
    unmatched_id: int = 0           # pycocotools stores "no match" as GT id 0, xtcocotools as -1

    def match_counts(self, gt_ids: np.ndarray) -> np.ndarray:
        """Whether a match to GTs with these ids counts as one (a GT id equal to the tool's
        "unmatched" marker silently turns a match into a miss: id 0 in pycocotools, id < 0 in
        xtcocotools)."""
        return gt_ids != 0 if self.unmatched_id == 0 else gt_ids >= 0


_PYCOCOTOOLS = "pycocotools 2.0.11 COCOeval(iouType='keypoints')"
PROTOCOLS = {
    "coco": Protocol("coco", _PYCOCOTOOLS, COCO_SIGMAS, COCO_STATS),
    "ochuman": Protocol("ochuman", _PYCOCOTOOLS, COCO_SIGMAS, COCO_STATS),
    "crowdpose": Protocol("crowdpose", "xtcocotools 1.14.3 COCOeval(iouType='keypoints_crowd', "
                          "use_area=False)", CROWDPOSE_SIGMAS, CROWDPOSE_STATS, box_area=True,
                          drop_unscored=True, crowd_split=True, unmatched_id=-1),
}


@dataclass
class EvalResult:
    """Named statistics and the protocol that produced them.

    `precision` (T,R,C,A,1) and `recall` (T,C,A,1) are pycocotools' `eval['precision']` and
    `eval['recall']` over all images: T = 10 OKS thresholds, R = 101 recall points, C = categories,
    A = area ranges (all, medium, large); -1 where a category has no GT in that range.
    """

    stats: dict[str, float]
    protocol: dict
    counts: dict[str, int] = field(default_factory=dict)
    precision: np.ndarray | None = field(default=None, repr=False)
    recall: np.ndarray | None = field(default=None, repr=False)

    def header(self) -> str:
        p = self.protocol
        lines = [f"{p['evaluator']} | dataset {p['dataset']} | replicates {p['replicates']}",
                 f"sigmas ({len(p['sigmas'])}): " + " ".join(f"{s:.4g}" for s in p["sigmas"]),
                 f"area: {p['area']} | ranges " + ", ".join(f"{k} [{lo:g}, {hi:g}]" for k, (lo, hi)
                                                           in p["area_ranges"].items()),
                 f"maxDets {p['max_dets']} | OKS thresholds .50:.05:.95 | {p['recall_points']} recall "
                 f"points | GT ignored: {p['gt_ignore']}"
                 + (" | results with all keypoint scores <= 0 dropped" if p["drop_unscored"] else "")]
        if self.counts:
            lines.append(" | ".join(f"{k} {v}" for k, v in self.counts.items()))
        return "\n".join(lines)

    def table(self) -> str:
        return "\n".join(f"{name:10s} {value:8.4f}" for name, value in self.stats.items())

    def to_dict(self) -> dict:
        return {"stats": dict(self.stats), "protocol": dict(self.protocol), "counts": dict(self.counts)}


def get_protocol(dataset: str) -> Protocol:
    if dataset not in PROTOCOLS:
        raise ConfigError(f"unknown evaluation dataset '{dataset}': use one of {sorted(PROTOCOLS)}")
    return PROTOCOLS[dataset]


def evaluate(gt: str | Path | dict | GroundTruth, results: str | Path | list | Results,
             dataset: str = "coco", sigmas=None) -> EvalResult:
    """Keypoint AP/AR of `results` against `gt`, identical to the reference tool of `dataset`.

    gt: a COCO keypoint file (path or dict); results: a COCO results file or list of entries
    {image_id, category_id, keypoints [x, y, score] * K, score}. dataset: "coco" and "ochuman"
    reproduce pycocotools (stats AP, AP50, AP75, APm, APl, AR, AR50, AR75, ARm, ARl); "crowdpose"
    reproduces xtcocotools' keypoints_crowd (AP, AP50, AP75, AR, AR50, AR75, AP_easy, AP_medium,
    AP_hard). sigmas: one per keypoint, overriding the dataset's.

    Statistics are -1 where there is nothing to measure (no unignored GT in that area range, or an
    empty E/M/H subset). Empty results are valid: every statistic whose range has GT is 0 — what
    pycocotools' COCOeval gives for an empty detection set, although its `loadRes([])` itself fails
    with an IndexError; xtcocotools accepts `[]` and gives the same zeros.
    """
    protocol = get_protocol(dataset)
    truth = gt if isinstance(gt, GroundTruth) else load_ground_truth(gt)
    dets = results if isinstance(results, Results) else load_results(results, truth)
    sigmas = _check_sigmas(sigmas, protocol, truth.num_keypoints_per_person)
    if dets.keypoints.shape[1] != truth.num_keypoints_per_person:
        raise InputError(f"results have {dets.keypoints.shape[1]} keypoints per person but the GT has "
                         f"{truth.num_keypoints_per_person}: evaluate against the matching annotations")
    if protocol.crowd_split and np.isnan(truth.crowd_index).any():
        raise InputError(f"{int(np.isnan(truth.crowd_index).sum())} GT images lack 'crowdIndex', which "
                         f"crowdpose evaluation splits easy/medium/hard by: use the CrowdPose annotation "
                         f"file or --dataset coco")
    matches = match(truth, dets, protocol, sigmas)
    precision, recall = accumulate(matches)
    stats = {name: summarize(precision, recall, kind, threshold, area)
             for name, kind, threshold, area in protocol.stats}
    if protocol.crowd_split:
        level = np.searchsorted(CROWD_SPLIT, truth.crowd_index, side="right")  # (I,) 0 easy .. 2 hard
        for i, name in enumerate(CROWD_LEVELS):
            subset, _ = accumulate(matches, level == i)
            # xtcocotools averages every cell, -1 included, and rounds to 4 places
            stats[name] = float(np.round(np.mean(subset[:, :, :, 0, :]), 4))
    counts = {"images": len(truth.image_ids), "gt": len(truth.ann_ids),
              "gt_ignored": int((truth.iscrowd | (truth.num_keypoints == 0)).sum()),
              "results": len(dets), "results_evaluated": len(matches.score)}
    return EvalResult(stats, _describe(protocol, sigmas), counts, precision, recall)


def _check_sigmas(sigmas, protocol: Protocol, num_keypoints: int) -> np.ndarray:
    given = sigmas is not None
    values = np.asarray(sigmas if given else protocol.sigmas, dtype=np.float64)
    if values.ndim != 1 or not np.isfinite(values).all() or (values <= 0).any():
        raise ConfigError("sigmas must be a flat list of positive numbers, one per keypoint")
    if len(values) != num_keypoints:
        source = "the given sigmas" if given else f"the {protocol.name} sigmas"
        raise ConfigError(f"{source} are {len(values)} values but the GT has {num_keypoints} keypoints "
                          f"per person: pass {num_keypoints} sigmas (--sigmas FILE) or pick the dataset "
                          f"the annotations belong to")
    return values


def _describe(protocol: Protocol, sigmas: np.ndarray) -> dict:
    from posekit import __version__

    return {
        "dataset": protocol.name,
        "evaluator": f"posekit.eval {__version__}",
        "replicates": protocol.replicates,
        "sigmas": sigmas.tolist(),
        "area": "GT bbox w*h*0.53 (OKS scale and ranges)" if protocol.box_area
                else "GT 'area' field (OKS scale and ranges)",
        "area_ranges": {k: [float(lo), float(hi)] for k, (lo, hi) in AREA_RANGES.items()},
        "max_dets": MAX_DETS,
        "oks_thresholds": [round(float(t), 2) for t in OKS_THRESHOLDS],
        "recall_points": len(RECALL_THRESHOLDS),
        "gt_ignore": "iscrowd or num_keypoints == 0 (the field)",
        "drop_unscored": protocol.drop_unscored,
        "crowd_split": "easy: crowdIndex < 0.2, medium: < 0.8, hard: the rest" if protocol.crowd_split else None,
    }


@dataclass
class Matches:
    """Per-result outcome of the greedy matching. D = evaluated results, G = GT, A = area ranges,
    T = OKS thresholds. Results are in accumulate order: by category, then score (descending),
    ties by image id and rank; GT rows are in file order."""

    category: np.ndarray       # (D,) category index
    image: np.ndarray          # (D,) image index
    score: np.ndarray          # (D,)
    tp: np.ndarray             # (A,T,D) bool, a match that counts
    fp: np.ndarray             # (A,T,D) bool, neither a counted match nor ignored
    gt_category: np.ndarray    # (G,)
    gt_image: np.ndarray       # (G,)
    gt_regular: np.ndarray     # (A,G) bool, not ignored in that area range
    num_categories: int


def match(gt: GroundTruth, dets: Results, protocol: Protocol, sigmas: np.ndarray) -> Matches:
    """Steps 1-3: rank the results, compute OKS per (result, GT) pair, match greedily."""
    num_images = len(gt.image_ids)
    area = gt.bboxes[:, 2] * gt.bboxes[:, 3] * 0.53 if protocol.box_area else gt.areas  # (G,)
    ranges = np.array(list(AREA_RANGES.values()), dtype=np.float64)  # (A, 2)
    outside = (area < ranges[:, :1]) | (area > ranges[:, 1:])  # (A, G)
    gt_ignore = (gt.iscrowd | (gt.num_keypoints == 0)) | outside  # (A, G)

    gt_unit = gt.category_index * num_images + gt.image_index  # one unit = (category, image)
    num_units = len(gt.category_ids) * num_images
    gt_count = np.bincount(gt_unit, minlength=num_units)
    gt_rows = np.argsort(gt_unit, kind="stable")  # GT grouped by unit, file order within
    gt_start = np.cumsum(gt_count) - gt_count

    kept, rank = rank_results(dets, num_images, protocol)
    det_unit = dets.category_index[kept] * num_images + dets.image_index[kept]  # (D,)
    pair_det, pair_gt = _pairs(det_unit, gt_start, gt_count)
    pair_gt = gt_rows[pair_gt]
    # pairs below the lowest threshold can never match: skip those a cheap bound rules out, drop the rest
    near = ~oks_surely_below(dets.keypoints, gt.keypoints, gt.bboxes, area, sigmas, kept[pair_det],
                             pair_gt, OKS_THRESHOLDS[0])
    pair_det, pair_gt = pair_det[near], pair_gt[near]
    pair_oks = pair_oks_values(dets.keypoints, gt.keypoints, gt.bboxes, area, sigmas,
                               kept[pair_det], pair_gt)
    close = pair_oks >= OKS_THRESHOLDS[0]
    by_rank = np.argsort(rank[pair_det[close]], kind="stable")  # then unit, then GT file order
    pair_det, pair_gt, pair_oks = pair_det[close][by_rank], pair_gt[close][by_rank], pair_oks[close][by_rank]
    match_area, match_t, match_det, match_gt = greedy_match(pair_det, pair_gt, pair_oks, rank[pair_det],
                                                            gt_ignore, gt.iscrowd)

    order = np.lexsort((-dets.scores[kept], dets.category_index[kept]))  # stable: ties keep unit order
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    kept = kept[order]
    det_area = dets.areas[kept]
    det_outside = (det_area < ranges[:, :1]) | (det_area > ranges[:, 1:])  # (A, D)
    counted = np.zeros((len(ranges), len(OKS_THRESHOLDS), len(kept)), bool)  # (A, T, D)
    on_ignored = np.zeros_like(counted)
    at = match_area, match_t, position[match_det]
    counted[at] = protocol.match_counts(gt.ann_ids[match_gt])
    on_ignored[at] = gt_ignore[match_area, match_gt]
    ignored = on_ignored | (~counted & det_outside[:, None, :])
    return Matches(
        category=dets.category_index[kept], image=dets.image_index[kept], score=dets.scores[kept],
        tp=counted & ~ignored, fp=~(counted | ignored),
        gt_category=gt.category_index, gt_image=gt.image_index, gt_regular=~gt_ignore,
        num_categories=len(gt.category_ids))


def rank_results(dets: Results, num_images: int, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the results that are evaluated, grouped by (category, image) and sorted by score
    (ties in file order), at most MAX_DETS per group; and each one's rank in its group."""
    usable = dets.category_index >= 0
    if protocol.drop_unscored:
        usable &= (dets.keypoints[..., 2] > 0).any(-1)
    rows = np.flatnonzero(usable)
    unit = dets.category_index[rows] * num_images + dets.image_index[rows]
    order = np.lexsort((-dets.scores[rows], unit))  # lexsort is stable, as mergesort
    rows, unit = rows[order], unit[order]
    rank = np.arange(len(rows)) - np.searchsorted(unit, unit, side="left")
    top = rank < MAX_DETS
    return rows[top], rank[top]


def _pairs(det_unit, gt_start, gt_count) -> tuple[np.ndarray, np.ndarray]:
    """Every (result, GT) pair of the same unit, ordered by result, then GT: (P,) result index and
    (P,) position in the unit-grouped GT order."""
    per_det = gt_count[det_unit]  # (D,)
    pair_det = np.repeat(np.arange(len(det_unit)), per_det)  # (P,)
    offset = np.arange(len(pair_det)) - np.repeat(np.cumsum(per_det) - per_det, per_det)
    return pair_det, np.repeat(gt_start[det_unit], per_det) + offset


def oks_surely_below(det_kpts: np.ndarray, gt_kpts: np.ndarray, gt_boxes: np.ndarray, gt_area: np.ndarray,
                     sigmas: np.ndarray, pair_det: np.ndarray, pair_gt: np.ndarray, threshold: float) -> np.ndarray:
    """(P,) True where the OKS of a (result, GT) pair is certainly below `threshold`, from boxes alone.

    Each OKS term measures a result keypoint against a point of the GT's reference box (see
    `_reference_boxes`), so its distance is at least the gap between that box and the box of the
    result's keypoints, and every term is at most exp(-gap² / (2 s² (2 max σ)²)). The bound uses the
    operations of `pair_oks_values` in the same order, each monotone, so rounding cannot lift it
    above a term; the margin of 0.05 on the exponent dwarfs the error of exp.
    """
    gx0, gx1, gy0, gy1 = _reference_boxes(gt_kpts, gt_boxes)  # (G,) each
    det_x, det_y = det_kpts[..., 0], det_kpts[..., 1]
    dx0, dx1, dy0, dy1 = det_x.min(-1), det_x.max(-1), det_y.min(-1), det_y.max(-1)  # (D,)
    d, g = pair_det, pair_gt
    gap_x = np.maximum(np.maximum(gx0[g] - dx1[d], dx0[d] - gx1[g]), 0)  # (P,)
    gap_y = np.maximum(np.maximum(gy0[g] - dy1[d], dy0[d] - gy1[g]), 0)
    e = (gap_x ** 2 + gap_y ** 2) / ((sigmas * 2) ** 2).max() / (gt_area[g] + np.spacing(1)) / 2
    return e > np.log(1 / threshold) + 0.05


def _reference_boxes(gt_kpts: np.ndarray, gt_boxes: np.ndarray) -> tuple[np.ndarray, ...]:
    """x0, x1, y0, y1 (G,) of what OKS measures result keypoints against: the extent of the labelled
    keypoints, or for a GT without any, its box grown by its own size on every side."""
    labelled = gt_kpts[..., 2] > 0  # (G, K)
    gt_x, gt_y = gt_kpts[..., 0], gt_kpts[..., 1]
    x, y, w, h = gt_boxes.T
    blind = ~labelled.any(-1)
    return (np.where(blind, x - w, np.where(labelled, gt_x, np.inf).min(-1)),
            np.where(blind, x + w * 2, np.where(labelled, gt_x, -np.inf).max(-1)),
            np.where(blind, y - h, np.where(labelled, gt_y, np.inf).min(-1)),
            np.where(blind, y + h * 2, np.where(labelled, gt_y, -np.inf).max(-1)))


def pair_oks_values(det_kpts: np.ndarray, gt_kpts: np.ndarray, gt_boxes: np.ndarray,
                    gt_area: np.ndarray, sigmas: np.ndarray, pair_det: np.ndarray,
                    pair_gt: np.ndarray, chunk: int = 1 << 13) -> np.ndarray:
    """OKS of P (result, GT) pairs as pycocotools' computeOks defines it.

    det_kpts (D,K,3) x, y, score; gt_kpts (G,K,3) x, y, v; gt_boxes (G,4) xywh; gt_area (G,) the
    scale s²; sigmas (K,); pair_det, pair_gt (P,) the rows paired. Returns (P,): the mean over the
    GT's labelled keypoints of exp(-d² / (2 s² (2σ)²)); for a GT without labelled keypoints, d is the
    distance to the GT box grown by its own size on every side, averaged over all K.
    """
    variances = (sigmas * 2) ** 2  # (K,)
    labelled = gt_kpts[..., 2] > 0  # (G, K)
    count = labelled.sum(-1)  # (G,)
    scale = gt_area + np.spacing(1)  # (G,)
    det_x, det_y = np.ascontiguousarray(det_kpts[..., 0]), np.ascontiguousarray(det_kpts[..., 1])  # (D, K)
    gt_x, gt_y = np.ascontiguousarray(gt_kpts[..., 0]), np.ascontiguousarray(gt_kpts[..., 1])  # (G, K)
    out = np.empty(len(pair_det))
    seen = np.flatnonzero(count[pair_gt] > 0)
    for lo in range(0, len(seen), chunk):
        at = seen[lo:lo + chunk]
        di, gi = pair_det[at], pair_gt[at]
        dx, dy = det_x.take(di, 0) - gt_x.take(gi, 0), det_y.take(di, 0) - gt_y.take(gi, 0)  # (p, K)
        e = (dx ** 2 + dy ** 2) / variances / scale[gi, None] / 2
        # exp(-e) of an unlabelled keypoint is finite (s² >= 0), so zeroing it by product is exact
        out[at] = (np.exp(-e) * labelled.take(gi, 0)).sum(-1) / count[gi]
    blind = np.flatnonzero(count[pair_gt] == 0)  # GT without labelled keypoints: distance to its box
    if len(blind):
        di, gi = pair_det[blind], pair_gt[blind]
        x, y, w, h = (gt_boxes[gi, i, None] for i in range(4))  # (b, 1) each
        x0, x1, y0, y1 = x - w, x + w * 2, y - h, y + h * 2  # as in _reference_boxes
        px, py = det_x.take(di, 0), det_y.take(di, 0)  # (b, K)
        dx = np.maximum(0, x0 - px) + np.maximum(0, px - x1)
        dy = np.maximum(0, y0 - py) + np.maximum(0, py - y1)
        e = (dx ** 2 + dy ** 2) / variances / scale[gi, None] / 2
        out[blind] = np.exp(-e).sum(-1) / e.shape[-1]
    return out


def greedy_match(pair_det, pair_gt, pair_oks, pair_rank, gt_ignore, gt_crowd) -> tuple[np.ndarray, ...]:
    """pycocotools' evaluateImg matching for all units, area ranges and thresholds at once.

    Pairs (P,) are ordered by result rank, then unit, then GT file order; gt_ignore (A,G), gt_crowd
    (G,). A result takes the unmatched (or crowd) GT with the highest OKS >= threshold, ties to the
    later GT; unignored GTs first, ignored ones only if no unignored GT qualifies. Results are matched
    in score order, so one loop step per rank. Returns the matches as four (M,) arrays: area range,
    threshold, result and GT row.
    """
    num_areas, num_gt = gt_ignore.shape
    thresholds = np.minimum(OKS_THRESHOLDS, 1 - 1e-10)[:, None]  # (T, 1)
    taken = np.zeros((num_areas, len(OKS_THRESHOLDS), num_gt), dtype=bool)
    bounds = np.searchsorted(pair_rank, np.arange(MAX_DETS + 1))
    found = []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        if lo == hi:
            continue
        dets = pair_det[lo:hi]
        new = np.r_[True, dets[1:] != dets[:-1]]  # one segment per result
        starts = np.flatnonzero(new)  # (S,)
        # within each result by OKS, ties in GT order: the best candidate is then the last one
        order = lo + np.lexsort((pair_oks[lo:hi], np.cumsum(new)))
        gts, oks = pair_gt[order], pair_oks[order]
        hit = (~taken[:, :, gts] | gt_crowd[gts]) & (oks >= thresholds)  # (A, T, P)
        place = np.arange(hi - lo)
        preference = np.where(gt_ignore[:, None, gts], place, place + (hi - lo))  # unignored first
        best = np.maximum.reduceat(np.where(hit, preference, -1), starts, axis=-1)  # (A, T, S)
        a, t, s = np.nonzero(best >= 0)
        g = gts[best[a, t, s] % (hi - lo)]
        taken[a, t, g] = True
        found.append((a, t, dets[starts[s]], g))
    if not found:
        return tuple(np.zeros(0, np.int64) for _ in range(4))
    return tuple(np.concatenate(column) for column in zip(*found))


def accumulate(m: Matches, images: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Step 4, pycocotools' accumulate: precision (T,R,C,A,1) and recall (T,C,A,1), -1 where a
    category has no unignored GT. `images` (I,) bool restricts both results and GT to those images."""
    num_areas = m.gt_regular.shape[0]
    num_t, num_r, num_c = len(OKS_THRESHOLDS), len(RECALL_THRESHOLDS), m.num_categories
    precision = -np.ones((num_t, num_r, num_c, num_areas, 1))
    recall = -np.ones((num_t, num_c, num_areas, 1))
    gt_in = np.ones(len(m.gt_image), bool) if images is None else images[m.gt_image]
    bounds = np.searchsorted(m.category, np.arange(num_c + 1))  # results are sorted by category
    for c in range(num_c):
        dets = slice(bounds[c], bounds[c + 1])
        if images is not None:
            dets = bounds[c] + np.flatnonzero(images[m.image[dets]])
        regular = m.gt_regular[:, gt_in & (m.gt_category == c)].sum(-1)  # (A,)
        tp, fp = m.tp[..., dets], m.fp[..., dets]  # (A, T, n)
        for a in np.flatnonzero(regular > 0):
            for t in range(num_t):
                precision[t, :, c, a, 0], recall[t, c, a, 0] = _precision_recall(tp[a, t], fp[a, t], regular[a])
    return precision, recall


def _precision_recall(tp: np.ndarray, fp: np.ndarray, regular: int) -> tuple[np.ndarray, float]:
    """Precision at the recall thresholds (R,) and the final recall of one category, area range and
    threshold, from the results' tp and fp flags (n,) in score order, as pycocotools computes them.

    Only the true positives are visited: recall rises only there, so the first result reaching a
    recall threshold is one; and precision falls between them, so the envelope (the best precision
    at or after a result) is a true positive's. Each value is computed as pycocotools computes it:
    tp / (fp + tp + eps) and tp / regular, with the exact counts.
    """
    hits = np.flatnonzero(tp)  # (H,)
    tp_sum = np.arange(1, len(hits) + 1, dtype=np.float64)  # (H,) true positives up to each hit
    fp_sum = np.cumsum(fp, dtype=np.int64)[hits]  # false positives before it
    rc = tp_sum / regular
    pr = tp_sum / (fp_sum + tp_sum + np.spacing(1))
    envelope = np.maximum.accumulate(pr[::-1])[::-1]
    at = np.searchsorted(rc, RECALL_THRESHOLDS, side="left")
    reached = at < len(hits)
    q = np.zeros(len(RECALL_THRESHOLDS))
    q[reached] = envelope[at[reached]]
    return q, (rc[-1] if len(hits) else 0.0)


def summarize(precision, recall, kind: str, threshold: float | None, area: str) -> float:
    """Step 5, pycocotools' _summarize: the mean over the selected cells that are not -1."""
    a = [list(AREA_RANGES).index(area)]
    s = precision if kind == "ap" else recall
    if threshold is not None:
        s = s[np.where(threshold == OKS_THRESHOLDS)[0]]
    s = s[:, :, :, a, [0]] if kind == "ap" else s[:, :, a, [0]]
    valid = s[s > -1]
    return -1.0 if len(valid) == 0 else float(np.mean(valid))
