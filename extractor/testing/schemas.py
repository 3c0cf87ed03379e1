"""JSON-schema helpers for the fake server: find the schema a request asks for, fill it, break it.

They let one generic responder stand in for a model in demos and benchmarks, and let a
"schema violation" fault fail validation for whatever response model the client uses.
"""

from __future__ import annotations

import json
from typing import Any

from extractor.testing.replies import Reply


def request_schema(request: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a request asks for, whichever way the client sent it.

    ``json_schema`` response format, a tool's parameters, instructor's ``json_object``
    dialect, or (plain JSON mode) the schema instructor writes into the system prompt.
    """
    fmt = request.get("response_format")
    if isinstance(fmt, dict):
        found = (fmt.get("json_schema") or {}).get("schema") or fmt.get("schema")
        if isinstance(found, dict):
            return found
    tools = request.get("tools") or []
    if tools and isinstance(tools[0].get("function", {}).get("parameters"), dict):
        return dict(tools[0]["function"]["parameters"])
    for message in request.get("messages") or []:
        text = message.get("content") if message.get("role") == "system" else None
        if not isinstance(text, str) or "json_schema" not in text:
            continue
        start = text.find("{", text.index("json_schema"))
        try:
            found, _ = json.JSONDecoder().raw_decode(text, start) if start >= 0 else (None, 0)
        except json.JSONDecodeError:
            continue
        if isinstance(found, dict):
            return found
    return None


def schema_responder(request: dict[str, Any]) -> Reply:
    """Answer with the smallest instance of the requested schema.

    A stand-in for a model when only the plumbing matters (demo, latency benchmark); with
    no schema in the request it answers ``{}``.
    """
    schema = request_schema(request)
    if schema is None:
        return Reply.json({})
    return Reply.json(minimal_instance(schema, schema.get("$defs", {})))


def violating_instance(schema: dict[str, Any] | None) -> dict[str, Any]:
    """An object whose every property has the wrong type (array fields get a string,
    others a nested array), so validation fails whatever is optional."""
    props = (schema or {}).get("properties") or {"__unexpected__": {}}
    defs = (schema or {}).get("$defs", {})
    return {name: "not-an-array" if "array" in _types(spec, defs) else [["not", "valid"]]
            for name, spec in props.items()}


def _types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    if "$ref" in schema:
        return _types(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    for option in schema.get("anyOf") or schema.get("oneOf") or []:
        found |= _types(option, defs)
    return found


def minimal_instance(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """Required fields only, each at its simplest valid value (null where allowed)."""
    if "$ref" in schema:
        return minimal_instance(defs.get(schema["$ref"].rsplit("/", 1)[-1], {}), defs)
    if "default" in schema:
        return schema["default"]
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    options = schema.get("anyOf") or schema.get("oneOf")
    if options:
        if any(o.get("type") == "null" for o in options):
            return None
        return minimal_instance(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return {name: minimal_instance(props.get(name, {}), defs)
                for name in schema.get("required", [])}
    simple: dict[str, Any] = {"array": [], "string": "", "integer": 0, "number": 0.0,
                              "boolean": False}
    return simple.get(kind) if isinstance(kind, str) else None
