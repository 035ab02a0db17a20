"""The alert rules file (`--alerts rules.yaml`): destinations, and rules over events columns.

    destinations:
      ops: {type: webhook, url: "https://hooks.example.org/newsmon", secret_env: NEWSMON_WEBHOOK_SECRET}
      console: {type: stdout}
      custom: {type: python, target: "mypkg.alerts:handle"}
    rules:
      - name: large-drone-attack
        when: {event_type: air_attack, drones_launched: {gte: 100}}
        notify: [ops, console]
        on: [new, updated]          # default [new]

A condition is a column of the events table and a value it must equal, or one operator of
OPERATORS with its operand; all conditions of a rule must hold. Nothing in the file is
evaluated as code: values are YAML scalars and lists, `target` is imported by name.

Every problem — a YAML syntax error, an unknown key, destination type, column or operator, a
value of the wrong type for its column, a secret variable that is not set or not a `whsec_`
secret, a python target that cannot be imported — raises RulesError naming the file, the line
and the problem (the CLI prints it and exits 2 before any work).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import pyarrow as pa
import yaml

from schemas.tables import EVENTS

OPERATORS = ("eq", "gte", "gt", "lte", "lt", "in", "contains")
ON = ("new", "updated")
DEFAULT_TIMEOUT_S = 10.0
DEFAULT_DEADLINE_S = 60.0
_DESTINATION_KEYS = {
    "webhook": {"type", "url", "secret_env", "timeout", "deadline"},
    "stdout": {"type"},
    "python": {"type", "target"},
}


class RulesError(ValueError):
    """A bad rules file: `file:line: problem` (create_pipeline makes it a UsageError: exit 2)."""


@dataclass(frozen=True)
class Destination:
    name: str
    type: str  # webhook | stdout | python
    url: str | None = None
    secret: str | None = None  # the whsec_… secret, read from secret_env when the file is loaded
    timeout_s: float = DEFAULT_TIMEOUT_S  # per request
    deadline_s: float = DEFAULT_DEADLINE_S  # for all the attempts of one alert in one run
    target: str | None = None  # module:function


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    operand: Any

    def holds(self, value: Any) -> bool:
        """Whether the column's value meets the condition; a null never does (but `eq: null`)."""
        if self.op == "eq":
            return value == self.operand
        if value is None:
            return False
        try:
            if self.op == "in":
                return value in self.operand
            if self.op == "contains":
                return self.operand in value
            return {
                "gte": value >= self.operand,
                "gt": value > self.operand,
                "lte": value <= self.operand,
                "lt": value < self.operand,
            }[self.op]
        except TypeError:
            return False


@dataclass(frozen=True)
class Rule:
    name: str
    when: tuple[Condition, ...]
    notify: tuple[str, ...]
    on: frozenset[str] = field(default_factory=lambda: frozenset({"new"}))

    def matches(self, row: dict[str, Any]) -> bool:
        return all(c.holds(row.get(c.column)) for c in self.when)


@dataclass(frozen=True)
class Rules:
    path: str
    destinations: dict[str, Destination]
    rules: tuple[Rule, ...]


class _Node:
    """A YAML node with what an error message needs: the file and the line."""

    def __init__(self, path: str, loader: yaml.SafeLoader, node: yaml.Node):
        self.path, self._loader, self.node = path, loader, node

    def error(self, problem: str) -> RulesError:
        return RulesError(f"{self.path}:{self.node.start_mark.line + 1}: {problem}")

    def mapping(self, what: str) -> dict[str, _Node]:
        if not isinstance(self.node, yaml.MappingNode):
            raise self.error(f"{what} must be a mapping")
        items: dict[str, _Node] = {}
        for key, value in self.node.value:
            # a key as written: YAML 1.1 would read `on:` as the boolean true
            name = key.value if isinstance(key, yaml.ScalarNode) else self._loader.construct_object(key, deep=True)
            if not isinstance(name, str):
                raise _Node(self.path, self._loader, key).error(f"{what}: keys must be names, not {name!r}")
            if name in items:
                raise _Node(self.path, self._loader, key).error(f"{what}: {name!r} appears twice")
            items[name] = _Node(self.path, self._loader, value)
        return items

    def sequence(self, what: str) -> list[_Node]:
        if not isinstance(self.node, yaml.SequenceNode):
            raise self.error(f"{what} must be a list")
        return [_Node(self.path, self._loader, n) for n in self.node.value]

    def value(self) -> Any:
        return self._loader.construct_object(self.node, deep=True)

    def string(self, what: str) -> str:
        value = self.value()
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{what} must be a non-empty string")
        return value


def load_rules(path: str, env: dict[str, str] | None = None) -> Rules:
    """The rules file at `path`, checked (module docstring). `env` defaults to os.environ."""
    env = os.environ if env is None else env
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise RulesError(f"--alerts {path}: cannot read it ({type(e).__name__})") from e
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise RulesError(f"{path}:1: the file is empty (want destinations: and rules:)")
        root = _Node(path, loader, node).mapping("the file")
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        line = mark.line + 1 if mark else 1
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise RulesError(f"{path}:{line}: not valid YAML: {problem}") from e
    top = _Node(path, loader, node)
    unknown = set(root) - {"destinations", "rules"}
    if unknown:
        raise root[sorted(unknown)[0]].error(f"unknown key {sorted(unknown)[0]!r} (want destinations, rules)")
    for needed in ("destinations", "rules"):
        if needed not in root:
            raise top.error(f"missing {needed}:")
    destinations = {
        name: _destination(name, spec, env) for name, spec in root["destinations"].mapping("destinations").items()
    }
    if not destinations:
        raise root["destinations"].error("destinations: none given")
    rules = [_rule(n, destinations) for n in root["rules"].sequence("rules")]
    if not rules:
        raise root["rules"].error("rules: none given")
    names = [r.name for r in rules]
    for n, name in zip(root["rules"].sequence("rules"), names, strict=True):
        if names.count(name) > 1:
            raise n.error(f"rule name {name!r} is used twice")
    return Rules(path, destinations, tuple(rules))


def _destination(name: str, node: _Node, env: dict[str, str]) -> Destination:
    spec = node.mapping(f"destination {name!r}")
    if "type" not in spec:
        raise node.error(f"destination {name!r}: missing type (webhook, stdout or python)")
    kind = spec["type"].value()
    if kind not in _DESTINATION_KEYS:
        raise spec["type"].error(f"destination {name!r}: unknown type {kind!r} (want webhook, stdout or python)")
    for key in spec:
        if key not in _DESTINATION_KEYS[kind]:
            allowed = ", ".join(sorted(_DESTINATION_KEYS[kind]))
            raise spec[key].error(f"destination {name!r}: unknown key {key!r} for type {kind} (want {allowed})")
    if kind == "stdout":
        return Destination(name, kind)
    if kind == "python":
        if "target" not in spec:
            raise node.error(f"destination {name!r}: missing target (module:function)")
        target = spec["target"].string("target")
        _import_target(target, spec["target"])
        return Destination(name, kind, target=target)
    if "url" not in spec:
        raise node.error(f"destination {name!r}: missing url")
    url = spec["url"].string("url")
    if not url.lower().startswith(("http://", "https://")):
        raise spec["url"].error(f"destination {name!r}: url must be http:// or https://, not {url!r}")
    secret = None
    if "secret_env" in spec:
        variable = spec["secret_env"].string("secret_env")
        secret = env.get(variable)
        if not secret:
            raise spec["secret_env"].error(f"destination {name!r}: environment variable {variable} is not set")
        if not _is_whsec(secret):
            raise spec["secret_env"].error(
                f"destination {name!r}: {variable} is not a Standard Webhooks secret (whsec_ and base64)"
            )
    seconds = {key: _seconds(spec[key], key) for key in ("timeout", "deadline") if key in spec}
    return Destination(
        name,
        kind,
        url=url,
        secret=secret,
        timeout_s=seconds.get("timeout", DEFAULT_TIMEOUT_S),
        deadline_s=seconds.get("deadline", DEFAULT_DEADLINE_S),
    )


def _seconds(node: _Node, key: str) -> float:
    value = node.value()
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise node.error(f"{key} must be a positive number of seconds, not {value!r}")
    return float(value)


def _is_whsec(secret: str) -> bool:
    if not secret.startswith("whsec_"):
        return False
    try:
        return bool(base64.b64decode(secret[len("whsec_") :] + "==", validate=False))
    except (binascii.Error, ValueError):
        return False


def import_target(target: str) -> Callable[[dict[str, Any]], Any]:
    """`module:function` -> the function (imported by name, never evaluated)."""
    module, _, attribute = target.partition(":")
    function = getattr(importlib.import_module(module), attribute)
    if not callable(function):
        raise TypeError(f"{target} is not callable")
    return function


def _import_target(target: str, node: _Node) -> None:
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute.isidentifier():
        raise node.error(f"target {target!r}: want module:function")
    try:
        import_target(target)
    except Exception as e:
        raise node.error(f"target {target!r} cannot be imported: {type(e).__name__}: {e}") from e


def _rule(node: _Node, destinations: dict[str, Destination]) -> Rule:
    spec = node.mapping("a rule")
    for key in spec:
        if key not in ("name", "when", "notify", "on"):
            raise spec[key].error(f"rule: unknown key {key!r} (want name, when, notify, on)")
    for needed in ("name", "when", "notify"):
        if needed not in spec:
            raise node.error(f"rule: missing {needed}")
    name = spec["name"].string("name")
    if ":" in name:
        raise spec["name"].error(f"rule name {name!r}: no ':' (it is part of the webhook-id)")
    when = tuple(
        c for column, n in spec["when"].mapping(f"rule {name!r}: when").items() for c in _conditions(column, n)
    )
    if not when:
        raise spec["when"].error(f"rule {name!r}: when has no condition")
    notify = []
    for n in spec["notify"].sequence(f"rule {name!r}: notify"):
        target = n.string("a destination name")
        if target not in destinations:
            raise n.error(f"rule {name!r}: notify names {target!r}, which is not under destinations")
        notify.append(target)
    if not notify:
        raise spec["notify"].error(f"rule {name!r}: notify names no destination")
    on = {"new"}
    if "on" in spec:
        on = set()
        for n in spec["on"].sequence(f"rule {name!r}: on"):
            if n.value() not in ON:
                raise n.error(f"rule {name!r}: on: unknown {n.value()!r} (want new, updated)")
            on.add(n.value())
    return Rule(name, when, tuple(notify), frozenset(on))


def _conditions(column: str, node: _Node) -> list[Condition]:
    if column not in EVENTS.names:
        raise node.error(f"unknown events column {column!r}")
    kind = EVENTS.field(column).type
    if isinstance(node.node, yaml.MappingNode):
        conditions = []
        for op, operand in node.mapping(f"condition on {column}").items():
            if op not in OPERATORS:
                raise operand.error(f"{column}: unknown operator {op!r} (want {', '.join(OPERATORS)})")
            conditions.append(Condition(column, op, _operand(column, kind, op, operand)))
        if not conditions:
            raise node.error(f"{column}: no operator")
        return conditions
    return [Condition(column, "eq", _operand(column, kind, "eq", node))]


def _operand(column: str, kind: pa.DataType, op: str, node: _Node) -> Any:
    """The operand, checked against the column's type (a list column's items for contains)."""
    value = node.value()
    is_list = pa.types.is_list(kind)
    if op == "in":
        if not isinstance(value, list) or not value:
            raise node.error(f"{column}: in wants a non-empty list")
        return tuple(_scalar(column, kind, v, node) for v in value)
    if op == "contains":
        if is_list:
            return _scalar(column, kind.value_type, value, node)
        if not pa.types.is_string(kind):
            raise node.error(f"{column}: contains works on text and list columns, not {kind}")
        return _scalar(column, kind, value, node)
    if is_list:
        if op != "eq" or not isinstance(value, list):
            raise node.error(f"{column} is a list: use contains, or eq with a list")
        return [_scalar(column, kind.value_type, v, node) for v in value]
    if value is None and op == "eq":
        return None
    return _scalar(column, kind, value, node)


def _scalar(column: str, kind: pa.DataType, value: Any, node: _Node) -> Any:
    ok = (
        (pa.types.is_integer(kind) and isinstance(value, int) and not isinstance(value, bool))
        or (pa.types.is_floating(kind) and isinstance(value, (int, float)) and not isinstance(value, bool))
        or (pa.types.is_string(kind) and isinstance(value, str))
        or (pa.types.is_boolean(kind) and isinstance(value, bool))
        or (pa.types.is_date(kind) and isinstance(value, date) and not isinstance(value, datetime))
        or (pa.types.is_timestamp(kind) and isinstance(value, datetime) and value.tzinfo is not None)
    )
    if not ok:
        raise node.error(f"{column} is {kind}: {value!r} is not a value of it")
    return value
