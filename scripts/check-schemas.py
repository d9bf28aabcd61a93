#!/usr/bin/env python3
"""Keeps Schemas/ honest: every *.schema.json is a valid JSON Schema 2020-12, equals the OpenAPI
component it documents (so the two can never drift), and accepts its example in Schemas/examples/."""
import json, pathlib, sys
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

root = pathlib.Path(__file__).resolve().parent.parent / "Schemas"
api = yaml.safe_load((root / "openapi/openapi.yaml").read_text())
components = api["components"]["schemas"]
schemas = {p.name: json.loads(p.read_text()) for p in sorted(root.glob("*.schema.json"))}
registry = Registry().with_resources((s["$id"], Resource.from_contents(s)) for s in schemas.values())
failures = []

def strip(node):
    """The schema as OpenAPI spells it: local refs instead of $id URLs, no file-level keys."""
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key in ("$schema", "$id", "title") and isinstance(value, str) and node is top:
                continue
            if key == "$ref" and value.startswith("https://hypervision.invalid/schemas/"):
                name = value.rsplit("/", 1)[1]
                out[key] = "#/components/schemas/" + schemas[name]["title"]
            else:
                out[key] = strip(value)
        return out
    if isinstance(node, list):
        return [strip(x) for x in node]
    return node

for name, schema in schemas.items():
    Draft202012Validator.check_schema(schema)
    top = schema
    mine = strip(schema)
    mine.pop("description", None)
    title = schema.get("title")
    if title in components:
        theirs = dict(components[title])
        theirs.pop("description", None)
        if mine != theirs:
            failures.append(f"{name} differs from the OpenAPI component {title}")
    elif name != "scene.schema.json":
        failures.append(f"{name}: no OpenAPI component named {title}")
    example = root / "examples" / name.replace(".schema.json", ".json")
    if example.exists():
        validator = Draft202012Validator(schema, registry=registry)
        for line in example.read_text().splitlines():
            if line.strip():
                for error in validator.iter_errors(json.loads(line)):
                    failures.append(f"{example.name}: {error.message}")
    print(f"checked {name}")

# Every golden scene of the layout tests is a valid scene document.
scene_validator = Draft202012Validator(schemas["scene.schema.json"], registry=registry)
goldens = sorted((root.parent / "Tests/HypervisionLayoutTests/Golden").glob("*.json"))
for golden in goldens:
    for error in scene_validator.iter_errors(json.loads(golden.read_text())):
        failures.append(f"{golden.name}: {error.message} at {list(error.absolute_path)}")
print(f"checked {len(goldens)} golden scenes against scene.schema.json")

for failure in failures:
    print("FAIL:", failure, file=sys.stderr)
sys.exit(1 if failures else 0)
