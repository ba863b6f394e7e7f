"""Every route with an integer path or query parameter, taken from the app's OpenAPI
schema (and the pages, which the public schema leaves out, described the same way), gets
0, -1, 2**63 and a non-number: a 4xx, never a 500 (issue 17, item 9)."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts

from tests.web.conftest import Api

BAD_VALUES = ("0", "-1", str(2**63), "x")
WRITES = ("post", "put", "patch")


def page_schema(app: FastAPI) -> dict[str, Any]:
    """The routes the public schema leaves out (the pages), described as OpenAPI would:
    each integer parameter of the endpoint, in the path when the path names it."""
    paths: dict[str, Any] = {}
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or route.include_in_schema or context.path is None:
            continue
        hints = typing.get_type_hints(route.endpoint)
        parameters = []
        for name, hint in hints.items():
            if int in (hint, *typing.get_args(hint)):
                where = "path" if "{" + name + "}" in context.path else "query"
                parameters.append({"name": name, "in": where, "schema": {"type": "integer"}})
        for method in route.methods - {"HEAD"}:
            operation = {"parameters": parameters}
            paths.setdefault(context.path, {})[method.lower()] = operation
    return {"paths": paths, "components": {"schemas": {}}}


def _resolve(schema: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[1]
        schema = spec["components"]["schemas"][name]
    return schema


def _is_integer(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(option.get("type") == "integer" for option in options)


def sample(schema: dict[str, Any], spec: dict[str, Any]) -> Any:
    """A minimal value the schema accepts (so that the parameters are what gets checked)."""
    schema = _resolve(schema, spec)
    if "anyOf" in schema:
        options = [o for o in schema["anyOf"] if o.get("type") != "null"]
        return sample(options[0], spec) if options else None
    if "enum" in schema:
        return schema["enum"][0]
    kind = schema.get("type")
    if kind == "object":
        required = schema.get("required", [])
        return {k: sample(schema["properties"][k], spec) for k in required}
    if kind == "array":
        return []
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1
    if kind == "boolean":
        return False
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00+00:00"
    if schema.get("format") == "date":
        return "2026-01-01"
    return "x" * max(1, int(schema.get("minLength", 1)))


def integer_cases(spec: dict[str, Any]) -> list[tuple[str, str, str, str, Any]]:
    """(method, path template, parameter, where, body) for each integer parameter."""
    cases = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            body = None
            content = operation.get("requestBody", {}).get("content", {})
            if "application/json" in content:
                body = sample(content["application/json"]["schema"], spec)
            for parameter in operation.get("parameters", []):
                if parameter["in"] in ("path", "query") and _is_integer(parameter["schema"]):
                    cases.append((method, path, parameter["name"], parameter["in"], body))
    return cases


async def _probe(api: Api, spec: dict[str, Any]) -> tuple[int, list[str]]:
    failures = []
    cases = integer_cases(spec)
    async with api.signed_in("root", "admin") as (client, _):
        for method, template, name, where, body in cases:
            for bad in BAD_VALUES:
                path = template
                for other in [p for p in _path_names(template) if p != name]:
                    path = path.replace("{" + other + "}", "1")
                params = {}
                if where == "path":
                    path = path.replace("{" + name + "}", bad)
                else:
                    params[name] = bad
                kwargs: dict[str, Any] = {"params": params}
                if method in WRITES:
                    kwargs["json"] = body if body is not None else {}
                response = await client.request(method.upper(), path, **kwargs)
                if response.status_code >= 500:
                    failures.append(f"{method.upper()} {path} {params}: {response.status_code}")
    return len(cases), failures


def _path_names(template: str) -> list[str]:
    return [part[1:-1] for part in template.split("/") if part.startswith("{")]


async def test_no_integer_parameter_of_the_api_gives_a_500(api: Api) -> None:
    async with api.client() as client:
        spec = (await client.get("/api/openapi.json")).json()
    covered, failures = await _probe(api, spec)
    assert covered >= 40  # every id route of the API: contacts, calls, tasks, users …
    assert failures == []


async def test_no_integer_parameter_of_the_pages_gives_a_500(api: Api, tmp_path: Path) -> None:
    from trubka.app import build_app
    from trubka.settings import load_settings

    spec = page_schema(
        build_app(load_settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/p.db"))
    )
    covered, failures = await _probe(api, spec)
    assert covered >= 5  # /contacts/{id}, /calls/{id}, the supervisor's pages …
    assert failures == []
