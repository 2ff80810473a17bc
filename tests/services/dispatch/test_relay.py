"""The relay's hand-out: leased ids cut into send tasks."""
from surveyd.services.dispatch.relay import batches
from surveyd.services.dispatch.sending import SEND_BATCH


def test_every_sender_gets_a_batch_before_any_batch_grows():
    assert [len(b) for b in batches(list(range(20)), 8)] == [3, 3, 3, 3, 3, 3, 2]
    assert batches([7], 8) == [[7]] and batches([], 8) == []


def test_batches_stop_at_the_send_batch_and_keep_every_id_once_in_order():
    ids = list(range(1000, 1000 + 16 * SEND_BATCH + 3))
    cut = batches(ids, 8)
    assert max(len(b) for b in cut) == SEND_BATCH
    assert [i for b in cut for i in b] == ids
    assert batches(ids, 0) == batches(ids, 1)  # no senders counted: still sends
