"""Small data sets generated on the spot (no download), for demos, examples and tests."""

from __future__ import annotations

import numpy as np


def spirals(n_per_class: int = 200, classes: int = 3, noise: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Interleaved 2-D spirals: float32 points (N, 2) and int64 labels (N,)."""
    rng = np.random.default_rng(seed)
    radius = np.tile(np.linspace(0.05, 1.0, n_per_class), classes)
    label = np.repeat(np.arange(classes), n_per_class)
    angle = label * (2 * np.pi / classes) + radius * 7.0 + rng.normal(0, noise, radius.shape)
    points = np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1)
    order = rng.permutation(len(label))
    return points[order].astype(np.float32), label[order].astype(np.int64)
