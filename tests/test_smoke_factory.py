from tests import factories


def test_factories_build_a_loop(ctx):
    s = factories.survey()
    factories.trigger(s.id)
    factories.contact()
    answer = factories.event()
    assert answer["dispatches"][0]["status"] == "sent"
    assert answer["dispatches"][0]["url"].startswith("http://surveyd.test/s/")
