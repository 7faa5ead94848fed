"""Lambda functions of the stack, and the package they run: this code and what it imports.

The package (``edgeferry-lambda.zip``) holds the ``cloud`` and ``edge_agent`` sources and the
installed distributions the handlers import (pydantic and its own dependencies; boto3 is part of
the Lambda runtime). Compiled wheels are taken from this installation, so the function's runtime
and architecture are this interpreter's: build the package on Linux with the Python version the
template names.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys
import zipfile
from pathlib import Path
from typing import Any

from cloud.export.iam import log_statements, role
from cloud.export.stack import Stack, Template, get_arn, logical_id

PACKAGE_NAME = "edgeferry-lambda.zip"
SOURCES = ("cloud", "edge_agent")
DISTRIBUTIONS = ("pydantic", "pydantic-core", "annotated-types", "typing-extensions", "typing-inspection")
RUNTIME = f"python{sys.version_info.major}.{sys.version_info.minor}"
ARCHITECTURE = "arm64" if platform.machine() in ("aarch64", "arm64") else "x86_64"


def add_code_parameters(t: Template) -> None:
    """Where the package is uploaded: given at deploy time (``--parameter-overrides``)."""
    t.parameters.setdefault("ArtifactBucket", {
        "Type": "String", "Description": f"S3 bucket holding {PACKAGE_NAME} (in the stack's region)"})
    t.parameters.setdefault("ArtifactKey", {
        "Type": "String", "Description": f"S3 key of {PACKAGE_NAME}"})


def add_function(t: Template, stack: Stack, name: str, handler: str, environment: dict[str, str],
                 statements: list[dict[str, Any]]) -> str:
    """A function running ``handler`` from the package with its own role (``statements`` plus its
    log group); returns its logical id."""
    add_code_parameters(t)
    function = f"{stack.name}-{name}"
    role_id = t.add(logical_id(name, "FunctionRole"), "AWS::IAM::Role",
                    role(stack, "lambda.amazonaws.com", [*statements, *log_statements(stack, function)]))
    return t.add(logical_id(name, "Function"), "AWS::Lambda::Function", {
        "FunctionName": function, "Runtime": RUNTIME, "Architectures": [ARCHITECTURE], "Handler": handler,
        "Code": {"S3Bucket": {"Ref": "ArtifactBucket"}, "S3Key": {"Ref": "ArtifactKey"}},
        "Role": get_arn(role_id), "Timeout": 60, "MemorySize": 256,
        "Environment": {"Variables": environment}})


def build_package(out: Path) -> Path:
    """Write the functions' package to ``out``; its path."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        root = Path(__file__).resolve().parents[2]
        for package in SOURCES:
            for path in sorted((root / package).rglob("*")):
                if path.is_file() and path.suffix in (".py", ".typed", ".json") and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(root).as_posix())
        for name in DISTRIBUTIONS:
            dist = importlib.metadata.distribution(name)
            for file in dist.files or ():
                if "__pycache__" in file.parts or file.parts[0].endswith(".data") or ".." in file.parts:
                    continue
                archive.write(Path(str(dist.locate_file(file))), file.as_posix())
    return out
