"""The pure alert rule."""
import pytest

from surveyd.services.alerts.raising import alert_reasons
from surveyd.services.design.survey_definitions import check_alert


@pytest.mark.parametrize("kind, negative, fine", [("nps", 6, 7), ("csat", 2, 3), ("ces", 3, 4)])
def test_default_thresholds_follow_the_product_definition(kind, negative, fine):
    rule = check_alert(kind, None)
    assert alert_reasons(rule, negative, []) == ["score"]
    assert alert_reasons(rule, fine, []) == []


def test_keywords_match_whole_words_in_any_case():
    rule = check_alert("nps", {"keywords": ["Refund", "iade"]})
    assert alert_reasons(rule, 9, ["I want a REFUND now"]) == ["keyword:refund"]
    assert alert_reasons(rule, 9, ["iade istiyorum"]) == ["keyword:iade"]
    assert alert_reasons(rule, 9, ["refunded already, thanks"]) == []
    assert alert_reasons(rule, 2, ["refund"]) == ["score", "keyword:refund"]


def test_threshold_must_sit_on_the_scale():
    from surveyd.services.errors import Invalid

    with pytest.raises(Invalid):
        check_alert("csat", {"threshold": 5})
    with pytest.raises(Invalid):
        check_alert("nps", {"threshold": -1})
