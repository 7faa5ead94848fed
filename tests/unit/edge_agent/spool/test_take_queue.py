import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.spool.errors import SpoolClosed
from edge_agent.spool.take_queue import TakeQueue


async def test_alarms_first_then_by_position() -> None:
    queue: TakeQueue[tuple[int, int]] = TakeQueue()
    for key in [(1, 3), (1, 1), (0, 7), (1, 2), (0, 5)]:
        queue.add(key)
    assert [await queue.take() for _ in range(5)] == [(0, 5), (0, 7), (1, 1), (1, 2), (1, 3)]
    assert queue.in_flight == {(0, 5), (0, 7), (1, 1), (1, 2), (1, 3)}


async def test_requeued_key_comes_back_before_later_ones() -> None:
    queue: TakeQueue[tuple[int, int]] = TakeQueue()
    for n in range(1, 5):
        queue.add((1, n))
    first, second = await queue.take(), await queue.take()
    queue.requeue(first)
    queue.discard(second)
    assert [await queue.take() for _ in range(3)] == [(1, 1), (1, 3), (1, 4)]
    assert (1, 2) not in queue.in_flight


async def test_close_wakes_a_waiting_take() -> None:
    queue: TakeQueue[tuple[int, int]] = TakeQueue()
    waiting = asyncio.create_task(queue.take())
    await asyncio.sleep(0)
    queue.close()
    with pytest.raises(SpoolClosed):
        await asyncio.wait_for(waiting, timeout=5)


ops = st.lists(st.tuples(st.sampled_from(["add", "take", "requeue", "discard"]),
                         st.integers(0, 1), st.integers(0, 20)), max_size=80)


@given(ops)
def test_take_always_returns_the_smallest_ready_key(script: list[tuple[str, int, int]]) -> None:
    async def run() -> None:
        queue: TakeQueue[tuple[int, int]] = TakeQueue()
        ready: set[tuple[int, int]] = set()
        flying: set[tuple[int, int]] = set()
        for op, prio, pos in script:
            key = (prio, pos)
            if op == "add":
                queue.add(key)
                if key not in flying:
                    ready.add(key)
            elif op == "take" and ready:
                got = await queue.take()
                assert got == min(ready)
                ready.remove(got)
                flying.add(got)
            elif op == "requeue" and key in flying:
                queue.requeue(key)
                flying.remove(key)
                ready.add(key)
            elif op == "discard":
                queue.discard(key)
                ready.discard(key)
                flying.discard(key)
            assert queue.in_flight == flying

    asyncio.run(run())
