import json
import random

from hypothesis import given
from hypothesis import strategies as st

from cloud.ledger import BatchLedger, Produced
from edge_agent.envelope import Batch


def _payload(device: str, seq: int, epoch: str = "e1") -> bytes:
    return Batch(device=device, site="s", asset_type="a", epoch=epoch, seq=seq, start=0, end=0).encode()


@given(st.lists(st.integers(1, 50), max_size=200))
def test_duplicates_and_missing_are_counted(deliveries: list[int]) -> None:
    ledger = BatchLedger()
    for seq in deliveries:
        ledger.record(_payload("d1", seq))
    result = ledger.reconcile(Produced(device="d1", epoch="e1", first=1, last=50))
    assert result.received == len(set(deliveries))
    assert result.duplicates == len(deliveries) - len(set(deliveries))
    assert result.missing == 50 - len(set(deliveries))
    assert ledger.unique == len(set(deliveries))


def test_other_epochs_and_garbage_do_not_count() -> None:
    ledger = BatchLedger()
    ledger.record(_payload("d1", 1, epoch="old"))
    ledger.record(b"not json")
    ledger.record(_payload("d1", 2))
    result = ledger.reconcile(Produced(device="d1", epoch="e1", first=1, last=2, dropped=1))
    assert result.received == 1
    assert result.missing == 0
    assert ledger.malformed == 1
    assert ledger.messages == 3


@given(st.sets(st.integers(1, 40)), st.integers(1, 40), st.randoms(use_true_random=False))
def test_declared_drops_explain_every_gap_whatever_the_arrival_order(
        dropped: set[int], withheld: int, rng: random.Random) -> None:
    """Each batch declares the drops before it; the ledger sees only what arrives, in any order."""
    sent = [seq for seq in range(1, 41) if seq not in dropped]
    payloads = [Batch(device="d1", site="s", asset_type="a", epoch="e1", seq=seq, start=0, end=0,
                      dropped=sum(1 for d in dropped if d < seq)).encode() for seq in sent]
    rng.shuffle(payloads)
    ledger = BatchLedger()
    for payload in payloads:
        ledger.record(payload)
    assert ledger.unexplained_gaps("d1", "e1") == 0
    if sent:
        assert ledger.declared("d1", "e1") == sum(1 for d in dropped if d < max(sent))
    late = BatchLedger()
    for payload in payloads:
        if json.loads(payload)["seq"] != withheld:
            late.record(payload)
    on_its_way = withheld in sent and withheld < max(sent)
    assert late.unexplained_gaps("d1", "e1") == (1 if on_its_way else 0)
