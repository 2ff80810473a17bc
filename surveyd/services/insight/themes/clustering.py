"""Grouping unit vectors into themes: k-means (k-means++ starts, seeded, so the same comments always give the same
themes), k chosen by the silhouette, small groups left without a theme. Pure numpy.

Confidence: how clearly a comment belongs to its theme rather than to the next nearest one. With s1 and s2 its
cosine similarities to the nearest and second-nearest theme centres, confidence = (s1 - s2) / (1 - s2), clipped to
0..1: 0 when it sits halfway between two themes, 1 when it lies on its theme's centre. It is a geometric margin,
not a calibrated probability: bench/themes.py shows how it relates to being right."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_COMMENTS = 10  # fewer comments than this make no themes worth reading
MAX_THEMES = 12
MIN_THEME_SIZE = 3  # a group smaller than this is left without a theme
SILHOUETTE_SAMPLE = 2000
RESTARTS = 4
ITERATIONS = 60


@dataclass(frozen=True)
class Clusters:
    """labels[i] is comment i's theme (0..k-1) or -1 for none; centroids are unit rows; confidence is 0..1."""

    labels: np.ndarray
    centroids: np.ndarray
    confidence: np.ndarray


def _unit(rows: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)


def _kmeans(vectors: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, float]:
    """Spherical k-means from k-means++ starts: (labels, unit centroids, total distance)."""
    n = len(vectors)
    centres = [vectors[rng.integers(n)]]
    for _ in range(1, k):
        distance = np.clip(1 - np.max(vectors @ np.array(centres).T, axis=1), 0, None)
        total = distance.sum()
        pick = rng.choice(n, p=distance / total) if total > 0 else rng.integers(n)
        centres.append(vectors[pick])
    centroids = np.array(centres)
    labels = np.full(n, -1)
    for _ in range(ITERATIONS):
        new = np.argmax(vectors @ centroids.T, axis=1)
        if np.array_equal(new, labels):
            break
        labels = new
        for j in range(k):
            members = vectors[labels == j]
            if len(members):
                centroids[j] = members.sum(axis=0)
        centroids = _unit(centroids)
    cost = float(np.sum(1 - np.sum(vectors * centroids[labels], axis=1)))
    return labels, centroids, cost


def silhouette(vectors: np.ndarray, labels: np.ndarray) -> float:
    """Mean silhouette with cosine distance (1 for tight, well-separated groups, 0 or less for none)."""
    groups, index = np.unique(labels, return_inverse=True)
    if len(groups) < 2:
        return -1.0
    distance = np.clip(1 - vectors @ vectors.T, 0, None)
    onehot = np.eye(len(groups))[index]
    sums, counts = distance @ onehot, onehot.sum(axis=0)
    rows = np.arange(len(vectors))
    own_count = counts[index]
    a = np.divide(sums[rows, index], own_count - 1, out=np.zeros(len(vectors)), where=own_count > 1)
    mean_other = sums / counts
    mean_other[rows, index] = np.inf
    b = mean_other.min(axis=1)
    widest = np.maximum(a, b)
    scores = np.divide(b - a, widest, out=np.zeros(len(vectors)), where=widest > 0)
    scores[own_count <= 1] = 0.0
    return float(scores.mean())


def confidence(vectors: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nearest centre, its similarity, confidence) for each row; see the module's note."""
    similarity = vectors @ centroids.T
    order = np.argsort(-similarity, axis=1)
    nearest = order[:, 0]
    s1 = similarity[np.arange(len(vectors)), nearest]
    if centroids.shape[0] < 2:
        return nearest, s1, np.clip(s1, 0, 1)
    s2 = similarity[np.arange(len(vectors)), order[:, 1]]
    margin = np.divide(s1 - s2, 1 - s2, out=np.zeros_like(s1), where=(1 - s2) > 1e-9)
    return nearest, s1, np.clip(margin, 0, 1)


def cluster(vectors: np.ndarray, seed: int = 0, max_themes: int = MAX_THEMES) -> Clusters:
    """Themes of these unit vectors; no themes under MIN_COMMENTS or when they do not group at all."""
    vectors = np.asarray(vectors, dtype=np.float64)
    n = len(vectors)
    empty = Clusters(np.full(n, -1), np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0)), np.zeros(n))
    usable = np.linalg.norm(vectors, axis=1) > 0 if n else np.zeros(0, dtype=bool)
    if usable.sum() < MIN_COMMENTS:
        return empty
    points = vectors[usable]
    rng = np.random.default_rng(seed)
    sample = points if len(points) <= SILHOUETTE_SAMPLE else points[rng.choice(len(points), SILHOUETTE_SAMPLE,
                                                                              replace=False)]
    best: tuple[float, np.ndarray] | None = None
    for k in range(2, max(2, min(max_themes, len(points) // 5)) + 1):
        runs = [_kmeans(points, k, np.random.default_rng([seed, k, restart])) for restart in range(RESTARTS)]
        _, centroids, _ = min(runs, key=lambda run: run[2])
        sample_labels = np.argmax(sample @ centroids.T, axis=1)
        score = silhouette(sample, sample_labels)
        if best is None or score > best[0] + 1e-9:
            best = (score, centroids)
    if best is None or best[0] <= 0:
        return empty
    centroids = best[1]
    labels = np.argmax(points @ centroids.T, axis=1)
    sizes = np.bincount(labels, minlength=len(centroids))
    kept = [j for j in np.argsort(-sizes, kind="stable") if sizes[j] >= MIN_THEME_SIZE]
    if not kept:
        return empty
    centroids = _unit(np.array([points[labels == j].sum(axis=0) for j in kept]))
    nearest, _, sure = confidence(points, centroids)
    small = ~np.isin(labels, kept)
    nearest[small] = -1  # a comment of a group too small stays without a theme
    labels_all, confidence_all = np.full(n, -1), np.zeros(n)
    labels_all[usable], confidence_all[usable] = nearest, np.where(small, 0.0, sure)
    return Clusters(labels_all, centroids.astype(np.float32), confidence_all)
