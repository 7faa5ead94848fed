"""The Lambda package that cloud export writes runs its handlers with nothing else installed
(the Lambda runtime adds only boto3, which the handlers import when they call AWS)."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from cloud.export.functions import build_package
from tests.unit.cloud.batches import make_batch

SCRIPT = """
import json, sys
from cloud.rows.aws_lambda import firehose_handler
event = json.load(sys.stdin)
print(json.dumps(firehose_handler(event)))
assert "boto3" not in sys.modules
"""


def test_the_package_runs_the_firehose_transformation_on_its_own(tmp_path: Path) -> None:
    package = build_package(tmp_path / "edgeferry-lambda.zip")
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path / "task")
    batch = make_batch("reefer-1", 3, readings=4)
    event = {"records": [{"recordId": "1", "approximateArrivalTimestamp": 0,
                          "data": base64.b64encode(batch.encode() + b"\n").decode()}]}
    # -S -I: no site-packages, no user paths, the working directory not on the path: only the package
    result = subprocess.run([sys.executable, "-S", "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path / 'task')!r})\n"
                             + SCRIPT], input=json.dumps(event), capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    [record] = json.loads(result.stdout)["records"]
    assert record["result"] == "Ok"
    rows = [json.loads(line) for line in base64.b64decode(record["data"]).splitlines()]
    assert [(r["point"], r["seq"]) for r in rows] == [("p0", 3), ("p1", 3), ("p2", 3), ("p0", 3)]
    assert record["metadata"]["partitionKeys"]["site"] == "plant1"
