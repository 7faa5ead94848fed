"""The rules file: topic rules declared as AWS declares them (``TopicRulePayload``), in YAML.

    dataDir: data                  # embedded stores, relative to this file
    rules:
      - name: telemetry
        sql: SELECT * FROM 'dt/+/+/+/telemetry'
        awsIotSqlVersion: '2016-03-23'
        actions:
          - stream: {streamName: telemetry, partitionKey: '${topic(4)}'}
          - lake: {partitionBy: [site, date]}
        errorAction:
          dlq: {}

Every problem is reported with its path (``rules[0].actions[1].lake.partitionBy: ...``), all at
once, SQL syntax errors included.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, model_validator

from cloud.rows.processor import RowsProcessorSpec
from cloud.rules.actions import ActionSpec
from cloud.rules.actions.base import CloudModel
from cloud.rules.protobuf import ProtoDescriptorFile
from cloud.rules.services import ServicesConfig

SqlVersion = Literal["2015-10-08", "2016-03-23", "beta"]
RULE_NAME = r"^[a-zA-Z0-9_]{1,128}$"
"""AWS rule names: letters, digits and underscores (CreateTopicRule's ``ruleName`` pattern)."""


class RulesFileError(Exception):
    """An invalid rules file; ``problems`` lists every ``path: message``."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


class AwsExportSettings(CloudModel):
    """Where the rules go on AWS, for ``cloud export`` and ``rules export-aws``; what is missing
    here must be given on the command line (nothing falls back to a placeholder)."""

    account_id: str | None = Field(default=None, pattern=r"^\d{12}$")
    region: str | None = Field(default=None, pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    stack_name: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9-]{0,24}$")
    """Names the stack and prefixes the names it makes (buckets, functions, Glue database)."""
    role_arn: str | None = None
    """``rules export-aws`` only: the role IoT assumes to run the actions (``cloud export``
    makes one per action)."""
    audit_retention_days: int = Field(default=2555, ge=1, le=36500)
    """How long the audit bucket keeps each raw batch, locked (S3 Object Lock, compliance mode)."""


class RuleSpec(CloudModel):
    """One topic rule: its name plus AWS's ``TopicRulePayload`` fields."""

    name: str = Field(pattern=RULE_NAME)
    sql: str = Field(min_length=1)
    description: str = ""
    aws_iot_sql_version: SqlVersion = "2016-03-23"
    actions: list[ActionSpec] = Field(default_factory=list, max_length=10)
    """At most 10 actions per rule, as in AWS."""
    error_action: ActionSpec | None = None
    rule_disabled: bool = False


class RulesFile(CloudModel):
    data_dir: Path = Path("edgeferry-data")
    """Where the embedded stores live (relative paths are relative to the rules file)."""
    rules: list[RuleSpec] = Field(min_length=1)
    functions: ServicesConfig | None = None
    """Where ``get_dynamodb``, ``aws_lambda``, ``get_thing_shadow``, ``get_secret`` and
    ``get_registry_data`` are served (without it, a rule that calls one is refused)."""
    proto_descriptors: list[ProtoDescriptorFile] = Field(default_factory=list)
    """The local files standing for the S3 descriptor files of ``decode(..., 'proto', ...)``
    (relative paths are relative to the rules file)."""
    processors: list[RowsProcessorSpec] = Field(default_factory=list)
    """Rows processors: batches on a stream exploded into the time-series store and current state."""
    aws: AwsExportSettings = AwsExportSettings()

    @model_validator(mode="after")
    def _unique_names(self) -> RulesFile:
        dupes = [name for name, n in Counter(r.name for r in self.rules).items() if n > 1]
        if dupes:
            raise ValueError(f"rule names must be unique: {', '.join(dupes)}")
        streams = self.stream_names()
        unknown = [p.stream for p in self.processors if p.stream not in streams]
        if unknown:
            raise ValueError(f"processors read streams no rule writes: {', '.join(unknown)}")
        return self

    def stream_names(self) -> set[str]:
        """The ``streamName`` of every stream action."""
        return {spec.stream.stream_name for rule in self.rules for spec in rule.actions
                if spec.stream is not None}

    def rule(self, name: str) -> RuleSpec | None:
        return next((r for r in self.rules if r.name == name), None)


def print_problems(exc: RulesFileError) -> int:
    """Print every problem of a rules file on stderr, one line each; return the exit code (2)."""
    for problem in exc.problems:
        print(f"{exc.source}: {problem}", file=sys.stderr)
    print(f"edgeferry: {len(exc.problems)} problem(s) in {exc.source}", file=sys.stderr)
    return 2


def parse_rules(data: Any, source: str = "<rules>", *, base: Path | None = None) -> RulesFile:
    """Validate a parsed document (and compile every rule's SQL); raise :class:`RulesFileError`."""
    if not isinstance(data, dict):
        raise RulesFileError(source, ["(top level): expected a mapping with a 'rules' list"])
    try:
        rules = RulesFile.model_validate(data)
    except ValidationError as exc:
        raise RulesFileError(source, _problems(exc)) from None
    served = rules.functions is not None
    sql_problems = [f"rules[{i}].sql: {problem}" for i, rule in enumerate(rules.rules)
                    if (problem := _sql_problem(rule, served)) is not None]
    sql_problems += [problem for i, rule in enumerate(rules.rules) for problem in _template_problems(i, rule)]
    if sql_problems:
        raise RulesFileError(source, sql_problems)
    if base is not None:
        rules = rules.model_copy(update={
            "data_dir": base / rules.data_dir,
            "proto_descriptors": [d.model_copy(update={"path": base / d.path}) for d in rules.proto_descriptors]})
    return rules


def load_rules(path: Path) -> RulesFile:
    """Read, validate and compile a rules file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise RulesFileError(str(path), [f"cannot read: {exc.strerror}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "YAML"
        raise RulesFileError(str(path), [f"{where}: {getattr(exc, 'problem', exc)}"]) from None
    return parse_rules(data, str(path), base=path.parent)


class _Unserved:
    """Stands for the configured service functions while a rule is only being checked."""

    def call(self, name: str, args: Sequence[Any], message: Any) -> Any:
        from cloud.rules.errors import FunctionNotAvailable

        raise FunctionNotAvailable(name)


def _sql_problem(rule: RuleSpec, served: bool) -> str | None:
    from cloud.rules import compile_rule
    from cloud.rules.errors import RulesError

    try:
        compile_rule(rule.sql, sql_version=rule.aws_iot_sql_version, resolver=_Unserved() if served else None)
    except RulesError as exc:
        return str(exc)
    return None


def _template_problems(index: int, rule: RuleSpec) -> list[str]:
    """Substitution templates (``${...}``) in action fields that do not parse."""
    from cloud.rules import compile_template
    from cloud.rules.errors import RulesError

    places = [(f"actions[{j}]", spec) for j, spec in enumerate(rule.actions)]
    if rule.error_action is not None:
        places.append(("errorAction", rule.error_action))
    problems = []
    for where, spec in places:
        for field, value in spec.config.model_dump(by_alias=True, exclude={"backend"}).items():
            if isinstance(value, str) and "${" in value:
                try:
                    compile_template(value, sql_version=rule.aws_iot_sql_version)
                except RulesError as exc:
                    problems.append(f"rules[{index}].{where}.{spec.kind}.{field}: {exc}")
    return problems


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors(include_url=False):
        message = err["msg"].removeprefix("Value error, ")
        if err["type"] == "union_tag_invalid":
            message = (f"unknown backend type {err['input'].get('type')!r}; "
                       f"expected one of {err['ctx']['expected_tags']}")
        out.append(f"{_location(tuple(err['loc']))}: {message}")
    return out


def _location(loc: tuple[int | str, ...]) -> str:
    """``("rules", 0, "actions", 1, "lake", "backend", "firehose", "x")`` ->
    ``rules[0].actions[1].lake.backend.x`` (the union tag pydantic inserts is left out)."""
    out = ""
    for i, part in enumerate(loc):
        if isinstance(part, int):
            out += f"[{part}]"
        elif i > 0 and loc[i - 1] == "backend" and i + 1 < len(loc):
            continue
        else:
            out += f".{part}" if out else part
    return out or "(top level)"
