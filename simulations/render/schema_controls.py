"""Form controls generated from an engine's JSON schemas: the panel's parameter fields and
action buttons, and the admin's reference of what a preset may hold. One reading of the
schema for both, so what the admin accepts is what the panel offers."""

from __future__ import annotations

import math
import re
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from itertools import product
from typing import Any

from simulations.engines.base import Engine
from simulations.runs import FieldError, RunError, loads_strict

#: An action field with at most this many values becomes one button per value.
MAX_BUTTONS = 12


@lru_cache(maxsize=1024)
def humanize(name: str) -> str:
    """'lost_updates' -> 'Lost updates', 'RunThread' -> 'Run thread'."""
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name).replace("_", " ").strip()
    return text[:1].upper() + text[1:].lower() if text else name




@dataclass(frozen=True)
class Choice:
    value: str  # as a form sends it
    label: str
    typed: Any = None  # as the schema has it (1000, not "1000")


@dataclass(frozen=True)
class FieldSpec:
    """One form control derived from a JSON schema property."""

    name: str
    title: str
    description: str
    kind: str  # "int" | "float" | "choice" | "bool" | "text" | "json" (a list or object, typed as JSON)
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    choices: tuple[Choice, ...] = ()
    required: bool = False

    def values(self) -> list[Any] | None:
        """Every value of a small finite field, else None."""
        if self.kind == "choice":
            return [c.value for c in self.choices]
        if self.kind == "bool":
            return [True, False]
        if self.kind == "int" and self.minimum is not None and self.maximum is not None:
            lo, hi = math.ceil(self.minimum), math.floor(self.maximum)
            if hi - lo + 1 <= MAX_BUTTONS:
                return list(range(lo, hi + 1))
        return None


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        target = schema.get("$defs", {}).get(ref.rsplit("/", 1)[1], {})
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return merged
    if "allOf" in node and len(node["allOf"]) == 1:
        return {**_resolve(schema, node["allOf"][0]), **{k: v for k, v in node.items() if k != "allOf"}}
    return node


def field_spec(schema: Mapping[str, Any], name: str, prop: Mapping[str, Any], required: bool) -> FieldSpec:
    node = _resolve(schema, prop)
    for key in ("anyOf", "oneOf"):
        if key in node:  # Optional[X]: use X
            options = [_resolve(schema, o) for o in node[key] if o.get("type") != "null"]
            if len(options) == 1:
                node = {**options[0], **{k: v for k, v in node.items() if k != key}}
    title = str(node.get("title") or humanize(name))
    description = str(node.get("description") or "")
    default = node.get("default")
    if "enum" in node or "const" in node:
        values = node.get("enum") or [node.get("const")]
        labels = node.get("x-labels") or {}
        choices = tuple(Choice(str(v), str(labels.get(str(v), humanize(str(v))) if labels else v), v) for v in values)
        return FieldSpec(name, title, description, "choice", default, choices=choices, required=required)
    kind = node.get("type")
    if kind == "boolean":
        return FieldSpec(name, title, description, "bool", default, required=required)
    if kind in ("integer", "number"):
        lo = node.get("minimum", node.get("exclusiveMinimum"))
        hi = node.get("maximum", node.get("exclusiveMaximum"))
        if kind == "integer":
            if "exclusiveMinimum" in node and "minimum" not in node:
                lo = lo + 1
            if "exclusiveMaximum" in node and "maximum" not in node:
                hi = hi - 1
            step = str(node.get("multipleOf", 1))
        else:
            step = str(node.get("multipleOf", "any"))
        return FieldSpec(
            name, title, description, "int" if kind == "integer" else "float", default,
            minimum=lo, maximum=hi, step=step, required=required,
        )
    if kind in ("array", "object"):
        return FieldSpec(name, title, description, "json", default, required=required)
    return FieldSpec(name, title, description, "text", default, required=required)


def decode_json_fields(specs: Iterable[FieldSpec], values: Mapping[str, Any], loc: tuple[str, ...]) -> dict[str, Any]:
    """Form values as the schema types them: a form sends every value as text, so a choice
    of numbers gets its number back, and a list or object field's text is read as JSON.
    Raises RunError naming the field."""
    out = dict(values)
    errors = []
    for spec in specs:
        raw = out.get(spec.name)
        if not isinstance(raw, str):
            continue
        if spec.kind == "choice":  # a choice of numbers arrives as its digits
            out[spec.name] = next((c.typed for c in spec.choices if c.value == raw and c.typed is not None), raw)
            continue
        if spec.kind != "json":
            continue
        try:
            out[spec.name] = loads_strict(raw)
        except ValueError:
            errors.append(FieldError((*loc, spec.name), "must be JSON, e.g. " + json.dumps(spec.default or [])))
    if errors:
        raise RunError(errors)
    return out


def decode_action_form(engine_cls: type[Engine], values: Mapping[str, Any]) -> dict[str, Any]:
    """An action form's values, its JSON fields decoded (see `decode_json_fields`)."""
    variant = next((v for v in action_variants(engine_cls) if v.tag and values.get(v.tag) == v.type), None)
    return decode_json_fields(variant.fields, values, ("action",)) if variant is not None else dict(values)


def decode_params_form(engine_cls: type[Engine], values: Mapping[str, Any]) -> dict[str, Any]:
    """A params form's values, its JSON fields decoded (see `decode_json_fields`)."""
    return decode_json_fields(params_fields(engine_cls), values, ("params",))


@lru_cache(maxsize=64)
def params_fields(engine_cls: type[Engine]) -> tuple[FieldSpec, ...]:
    # Cached: building the JSON schema costs more than the rest of a connect.
    schema = engine_cls.Params.model_json_schema()
    required = set(schema.get("required", ()))
    return tuple(field_spec(schema, n, p, n in required) for n, p in schema.get("properties", {}).items())


@dataclass(frozen=True)
class ActionControl:
    """A button (fixed values only) or a small form (with inputs) that applies one action."""

    label: str
    description: str
    fixed: tuple[tuple[str, str], ...]
    inputs: tuple[FieldSpec, ...] = ()
    #: The action dict of an engine-chosen button (`Engine.action_buttons`), which
    #: `Engine.action_unavailable` judges frame by frame; None for schema-derived controls.
    action: Mapping[str, Any] | None = None


def _variants(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    node = _resolve(schema, schema)
    for key in ("oneOf", "anyOf"):
        if key in node:
            return [_resolve(schema, v) for v in node[key]]
    return [node]


@dataclass(frozen=True)
class ActionVariant:
    """One kind of action (a variant of the engine's Action union) as a row of inputs: the
    value of its discriminator (`tag` = `type`), and its other fields. The admin's action
    table reads this; the panel's buttons (`action_controls`) read the same variants."""

    tag: str
    type: str
    title: str
    description: str
    fields: tuple[FieldSpec, ...]


def action_variants(engine_cls: type[Engine], params: Any = None) -> tuple[ActionVariant, ...]:
    """Every action variant with its fields (choices narrowed to `params` when given, as the
    panel's controls are). A schema without a discriminator has one variant, tag ''."""
    schema = engine_cls.action_adapter().json_schema()
    tag = str((schema.get("discriminator") or {}).get("propertyName") or "type")
    narrowed = engine_cls.action_choices(params) if params is not None else {}
    out: list[ActionVariant] = []
    for variant in _variants(schema):
        props = variant.get("properties", {})
        required = set(variant.get("required", ()))
        tag_spec = field_spec(schema, tag, props[tag], True) if tag in props else None
        value = tag_spec.choices[0].value if tag_spec is not None and len(tag_spec.choices) == 1 else ""
        fields = []
        for name, prop in props.items():
            if name == tag and value:
                continue
            spec = field_spec(schema, name, prop, name in required)
            if spec.kind == "choice" and name in narrowed:
                allowed = {str(v) for v in narrowed[name]}
                spec = replace(spec, choices=tuple(c for c in spec.choices if c.value in allowed))
            fields.append(spec)
        out.append(ActionVariant(
            tag if value else "", value, humanize(str(variant.get("title") or value or "Action")),
            str(variant.get("description") or ""), tuple(fields),
        ))
    return tuple(out)


def _format_label(template: str, values: Mapping[str, Any]) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return template


def action_controls(engine_cls: type[Engine], params: Any = None) -> list[ActionControl]:
    """Buttons for the engine's actions: the engine's own `action_buttons(params)` when it
    returns a list (the sensible choices depend on the params, e.g. one button per thread
    that exists), else derived from the Action schema (a discriminated union). A variant's
    schema may carry `x-label` ("Run T{thread}") to name its buttons.
    """
    custom = getattr(engine_cls, "action_buttons", None)
    buttons = custom(params) if callable(custom) and params is not None else None
    if buttons is not None:
        out = []
        for label, action in buttons:
            fixed = tuple((k, _form_value(v)) for k, v in action.items())
            out.append(ActionControl(str(label), "", fixed, action=dict(action)))
        return out
    schema = engine_cls.action_adapter().json_schema()
    narrowed = engine_cls.action_choices(params) if params is not None else {}
    controls: list[ActionControl] = []
    for variant in _variants(schema):
        props = variant.get("properties", {})
        required = set(variant.get("required", ()))
        title = str(variant.get("title") or "Action")
        label_template = variant.get("x-label")
        description = str(variant.get("description") or "")
        fixed: list[tuple[str, str]] = []
        enumerable: list[FieldSpec] = []
        inputs: list[FieldSpec] = []
        for name, prop in props.items():
            spec = field_spec(schema, name, prop, name in required)
            if spec.kind == "choice" and name in narrowed:
                allowed = {str(v) for v in narrowed[name]}
                spec = replace(spec, choices=tuple(c for c in spec.choices if c.value in allowed))
            if spec.kind == "choice" and len(spec.choices) == 1:
                fixed.append((name, spec.choices[0].value))
            elif spec.values() is not None:
                enumerable.append(spec)
            else:
                inputs.append(spec)
        combos = list(product(*[s.values() for s in enumerable])) if enumerable else [()]
        if inputs or len(combos) > MAX_BUTTONS:
            inputs = enumerable + inputs
            combos = [()]
            enumerable = []
        for combo in combos:
            values = {s.name: v for s, v in zip(enumerable, combo)}
            if label_template:
                label = _format_label(str(label_template), values)
            else:
                label = " ".join([humanize(title), *[_value_label(s, v) for s, v in zip(enumerable, combo)]])
            controls.append(ActionControl(
                label, description,
                tuple(fixed) + tuple((s.name, _form_value(v)) for s, v in zip(enumerable, combo)),
                tuple(inputs),
            ))
    return controls


def _value_label(spec: FieldSpec, value: Any) -> str:
    if spec.kind == "choice":
        for c in spec.choices:
            if c.value == str(value):
                return c.label
    if spec.kind == "bool":
        return f"{spec.title}: {'on' if value else 'off'}"
    return str(value)


def _form_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
