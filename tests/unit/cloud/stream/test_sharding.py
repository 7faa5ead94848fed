from __future__ import annotations

import hashlib
from collections import Counter

from cloud.stream.log import HASH_SPACE, shard_for


def test_shards_split_the_md5_hash_space_evenly_as_kinesis_does() -> None:
    for key in ("pump-1", "", "reefer-ü"):
        digest = int(hashlib.md5(key.encode()).hexdigest(), 16)
        shard = shard_for(key, 4)
        assert shard * HASH_SPACE // 4 <= digest < (shard + 1) * HASH_SPACE // 4
    counts = Counter(shard_for(f"device-{i}", 8) for i in range(8000))
    assert set(counts) == set(range(8))
    assert min(counts.values()) > 800
