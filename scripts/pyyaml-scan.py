#!/usr/bin/env python3
"""The baseline of the `targets` benchmark: what a Python tool does to list model URIs with PyYAML.

Walks DIR for *.yaml/*.yml, loads every document (libyaml's CSafeLoader when PyYAML has it, the fastest
PyYAML can go), and prints file, kind, name and URI of every Seldon/KServe model URI field.
"""
import os
import sys

import yaml

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def fields(doc):
    if not isinstance(doc, dict):
        return
    kind, spec = doc.get("kind"), doc.get("spec") or {}
    name = (doc.get("metadata") or {}).get("name")
    if kind == "List":
        for item in doc.get("items") or []:
            yield from fields(item)
    elif kind == "Model" and isinstance(spec, dict) and "storageUri" in spec:
        yield kind, name, spec["storageUri"]
    elif kind == "SeldonDeployment":
        stack = [p.get("graph") or {} for p in spec.get("predictors") or []]
        while stack:
            node = stack.pop()
            if "modelUri" in node:
                yield kind, f"{name}/{node.get('name')}", node["modelUri"]
            stack.extend(node.get("children") or [])
    elif kind == "InferenceService":
        for comp in ("predictor", "transformer", "explainer"):
            for value in (spec.get(comp) or {}).values():
                if isinstance(value, dict) and "storageUri" in value:
                    yield kind, f"{name}/{comp}", value["storageUri"]


count = 0
for folder, dirs, files in os.walk(sys.argv[1]):
    dirs[:] = [d for d in dirs if d != ".git"]
    for f in files:
        if f.endswith((".yaml", ".yml")):
            path = os.path.join(folder, f)
            with open(path, "rb") as fh:
                for doc in yaml.load_all(fh, Loader=Loader):
                    for kind, name, uri in fields(doc):
                        print(f"{path}\t{kind}\t{name}\t{uri}")
                        count += 1
print(count, "fields", file=sys.stderr)
