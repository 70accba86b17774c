"""A PNG of training curves drawn with OpenCV (no plotting library needed)."""

from __future__ import annotations

import numpy as np

from posekit.data.images import write_image

_COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75)]


def _panel(series: dict[str, tuple[list, list]], title: str, size=(360, 480)) -> np.ndarray:
    import cv2

    h, w = size
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.putText(img, title, (8, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    pts = [(np.asarray(x, float), np.asarray(y, float)) for x, y in series.values() if len(x)]
    if not pts:
        return img
    xs = np.concatenate([p[0] for p in pts])
    ys = np.concatenate([p[1] for p in pts])
    ys = ys[np.isfinite(ys)]
    if not len(ys):
        return img
    x0, x1 = xs.min(), max(xs.max(), xs.min() + 1e-9)
    y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-9)
    left, right, top, bottom = 50, w - 10, 30, h - 40
    cv2.rectangle(img, (left, top), (right, bottom), (180, 180, 180), 1)
    for frac in (0.0, 0.5, 1.0):
        yv = y0 + frac * (y1 - y0)
        yp = int(bottom - frac * (bottom - top))
        cv2.putText(img, f"{yv:.3g}", (2, yp + 4), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{x0:.0f}", (left, h - 24), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(img, f"{x1:.0f}", (right - 30, h - 24), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (0, 0, 0), 1, cv2.LINE_AA)
    for i, (name, (x, y)) in enumerate(series.items()):
        x, y = np.asarray(x, float), np.asarray(y, float)
        ok = np.isfinite(y)
        px = left + (x[ok] - x0) / (x1 - x0) * (right - left)
        py = bottom - (y[ok] - y0) / (y1 - y0) * (bottom - top)
        colour = _COLOURS[i % len(_COLOURS)]
        if len(px) > 1:
            cv2.polylines(img, [np.stack([px, py], 1).astype(np.int32)], False, colour, 1, cv2.LINE_AA)
        elif len(px) == 1:
            cv2.circle(img, (int(px[0]), int(py[0])), 3, colour, -1)
        cv2.putText(img, name, (left + 4 + 110 * (i % 4), h - 8 - 12 * (i // 4)), cv2.FONT_HERSHEY_SIMPLEX,
                    0.35, colour, 1, cv2.LINE_AA)
    return img


def plot_curves(records: list[dict], path) -> None:
    """records: the metrics log. Loss terms (keys starting with 'loss') against step; val metrics
    (keys starting with 'val/') against epoch."""
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    loss_keys = sorted({k for r in train for k in r if k.startswith("loss")})
    val_keys = sorted({k for r in val for k in r if k.startswith("val/")})[:6]
    losses = {k: ([r["step"] for r in train if k in r], [r[k] for r in train if k in r]) for k in loss_keys}
    metrics = {k[4:]: ([r["epoch"] for r in val if k in r], [r[k] for r in val if k in r]) for k in val_keys}
    write_image(path, np.concatenate([_panel(losses, "training loss vs step"),
                                      _panel(metrics, "validation vs epoch")], axis=1))
