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
