"""Classifier files: loading, versioning, and compiling rules to parameterized SQL.

A rule file has `rules` (tried in order, first match wins) and a `default`:

    default: unknown
    rules:
      - kind: slash_command
        when: {record_type: user, text: {matches: '^<command-name>'}}

Condition forms on a field: a plain value (equals; null means missing),
`{in: [...]}`, `{matches: regex}`, `{contains: text}`, `{is_null: bool}`.
Field names are checked against the classifier's known fields; every value
and pattern is bound as a SQL parameter, never spliced into the SQL.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from star_pipeline.storage.warehouse import quote_ident

VERSION_PATTERN = re.compile(r"^(?P<name>[a-z][a-z0-9_]*)-(?P<hash>[0-9a-f]{8})$")


class ClassifierConfigError(ValueError):
    """A classifier file is malformed; the message names the file and the rule."""


def classifier_version(name: str, data: bytes) -> str:
    return f"{name}-{hashlib.sha256(data).hexdigest()[:8]}"


@dataclass(frozen=True)
class ClassifierFile:
    name: str
    version: str
    text: str
    config: dict
    origin: str  # the file path, or where the text was recovered from


def parse_classifier(name: str, data: bytes, origin: str) -> ClassifierFile:
    import yaml

    try:
        config = yaml.safe_load(data.decode("utf-8")) or {}
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ClassifierConfigError(f"{origin}: not valid YAML: {exc}") from None
    if not isinstance(config, dict):
        raise ClassifierConfigError(f"{origin}: the top level must be a mapping.")
    return ClassifierFile(name, classifier_version(name, data), data.decode("utf-8"), config, origin)


def classifier_file_versions(folder: Path) -> dict[str, str]:
    """The current version of every classifier file, from its bytes alone (no parsing: the sensor's fast path)."""
    if not folder.is_dir():
        return {}
    return {path.stem: classifier_version(path.stem, path.read_bytes()) for path in sorted(folder.glob("*.yaml"))}


def compile_rules(classifier: ClassifierFile, label: str, fields: list[str], output: str = "label") -> tuple[str, list]:
    """A CASE expression and the parameters it binds, in order.

    output="label" gives each row's label (the rule's `label` value, else the
    default); output="rule" gives the 1-based number of the matching rule
    (NULL when the default applied).
    """
    rules = classifier.config.get("rules", [])
    unknown_keys = set(classifier.config) - {"rules", "default"}
    if unknown_keys:
        raise ClassifierConfigError(f"{classifier.origin}: unknown keys {sorted(unknown_keys)}; use 'rules' and 'default'.")
    if not isinstance(rules, list):
        raise ClassifierConfigError(f"{classifier.origin}: 'rules' must be a list.")
    sql = ["CASE"]
    params: list = []
    for index, rule in enumerate(rules, start=1):
        where = f"{classifier.origin}: rule {index}"
        if not isinstance(rule, dict) or set(rule) != {label, "when"}:
            raise ClassifierConfigError(f"{where} must have exactly the keys '{label}' and 'when', got {rule!r}.")
        conditions = rule["when"]
        if not isinstance(conditions, dict) or not conditions:
            raise ClassifierConfigError(f"{where}: 'when' must be a non-empty mapping of field conditions.")
        parts = []
        for field, condition in conditions.items():
            if field not in fields:
                raise ClassifierConfigError(f"{where}: unknown field '{field}'; known fields: {', '.join(fields)}.")
            part, values = _condition(quote_ident(field), condition, where)
            parts.append(part)
            params.extend(values)
        if output == "label":
            sql.append(f"WHEN {' AND '.join(parts)} THEN CAST(? AS VARCHAR)")
            params.append(str(rule[label]))
        else:
            sql.append(f"WHEN {' AND '.join(parts)} THEN {index}")
    if output == "label":
        sql.append("ELSE CAST(? AS VARCHAR) END")
        params.append(str(classifier.config.get("default", "unknown")))
    else:
        sql.append("ELSE CAST(NULL AS INTEGER) END")
    return "\n".join(sql), params


def _condition(column: str, condition: object, where: str) -> tuple[str, list]:
    if not isinstance(condition, dict):
        if condition is None:
            return f"{column} IS NULL", []
        if isinstance(condition, bool):
            return f"{column} = ?", [condition]
        return f"CAST({column} AS VARCHAR) = ?", [str(condition)]
    if len(condition) != 1:
        raise ClassifierConfigError(f"{where}: a condition has exactly one of in, matches, contains, is_null; got {condition!r}.")
    (op, value), = condition.items()
    if op == "in":
        if not isinstance(value, list) or not value:
            raise ClassifierConfigError(f"{where}: 'in' takes a non-empty list.")
        values = [str(v) for v in value if v is not None]
        tests = []
        if values:
            tests.append(f"CAST({column} AS VARCHAR) IN ({', '.join('?' for _ in values)})")
        if any(v is None for v in value):
            tests.append(f"{column} IS NULL")
        return "(" + " OR ".join(tests) + ")", values
    if op == "matches":
        if not isinstance(value, str):
            raise ClassifierConfigError(f"{where}: 'matches' takes a regular expression string.")
        try:
            re.compile(value.replace("(?i)", ""))
        except re.error as exc:
            raise ClassifierConfigError(f"{where}: bad regular expression {value!r}: {exc}") from None
        return f"coalesce(regexp_matches(CAST({column} AS VARCHAR), ?), FALSE)", [value]
    if op == "contains":
        return f"coalesce(contains(CAST({column} AS VARCHAR), ?), FALSE)", [str(value)]
    if op == "is_null":
        return (f"{column} IS NULL" if value else f"{column} IS NOT NULL"), []
    raise ClassifierConfigError(f"{where}: unknown condition '{op}'; use in, matches, contains or is_null.")
