#!/usr/bin/env python3
"""Offline validation of deploy/: run by .ci/run and test/infra/kubernetes.test.ts.

Each Kustomize directory (the base and every overlay) is rendered the way Kustomize renders
these files (resources, then patches merged by name; containers by their `name`) and every
object is checked:
- core Kubernetes objects with kubernetes-validate against the Kubernetes API's own schemas,
  strict (unknown fields are errors);
- the KEDA ScaledObject against deploy/kubernetes/schemas/keda-scaledobject.schema.json;
- any other kind is an error: nothing goes unvalidated.
Then the Prometheus rules and the Grafana dashboard are checked for their shape, and every
metric they query must be one the service or the Temporal SDK exports.
Exit status 0 when everything is valid; otherwise one line per problem on stderr.
"""
import json
import pathlib
import re
import sys

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES_VERSION = "1.30.0"
DEPLOY = pathlib.Path(__file__).resolve().parent
ROOT = DEPLOY.parent
KUSTOMIZATIONS = [DEPLOY / "kubernetes/base", DEPLOY / "kubernetes/overlays/gvisor"]
KEDA_SCHEMA = json.loads((DEPLOY / "kubernetes/schemas/keda-scaledobject.schema.json").read_text())


def merge(base, patch):
    """Strategic-merge as Kustomize does for these files: maps recursively, lists of named items by name."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            out[key] = merge(base[key], value) if key in base else value
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(isinstance(i, dict) and "name" in i for i in base + patch):
        out = list(base)
        for item in patch:
            index = next((i for i, b in enumerate(out) if b["name"] == item["name"]), None)
            if index is None:
                out.append(item)
            else:
                out[index] = merge(out[index], item)
        return out
    return patch


def render(directory):
    kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
    objects = []
    for resource in kustomization.get("resources", []):
        path = directory / resource
        objects += render(path) if path.is_dir() else [o for o in yaml.safe_load_all(path.read_text()) if o]
    for patch in kustomization.get("patches", []):
        change = yaml.safe_load((directory / patch["path"]).read_text())
        targets = [o for o in objects if o["kind"] == change["kind"] and o["metadata"]["name"] == change["metadata"]["name"]]
        if len(targets) != 1:
            raise ValueError(f"{directory}: patch {patch['path']} matches {len(targets)} objects")
        objects[objects.index(targets[0])] = merge(targets[0], change)
    return objects


def validate_object(obj):
    kind = obj.get("kind")
    if kind == "ScaledObject":
        jsonschema.validate(obj, KEDA_SCHEMA)
    elif obj.get("apiVersion", "").split("/")[0] in ("v1", "apps", "policy", "node.k8s.io", "batch", "networking.k8s.io"):
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
    else:
        raise ValueError(f"no schema to validate {obj.get('apiVersion')} {kind} against")


def exported_metrics():
    """Metric names the service declares (src/metrics) plus the Temporal SDK's prefix."""
    source = (ROOT / "src/metrics/metrics.ts").read_text()
    return set(re.findall(r"'(crucible_[a-z_]+)'", source))


def check_queries(where, expressions, known):
    problems = []
    for expression in expressions:
        for name in re.findall(r"\b(crucible_[a-z_]+|temporal_[a-z_]+)", expression):
            base = re.sub(r"_(bucket|count|sum)$", "", name)
            if name.startswith("crucible_") and base not in known:
                problems.append(f"{where}: {name} is not a metric the service exports")
    return problems


def main():
    problems = []
    for directory in KUSTOMIZATIONS:
        try:
            objects = render(directory)
        except Exception as err:  # a broken kustomization is a finding, reported with the others
            problems.append(f"{directory.relative_to(ROOT)}: {err}")
            continue
        for obj in objects:
            label = f"{directory.relative_to(ROOT)}: {obj.get('kind')} {obj.get('metadata', {}).get('name')}"
            try:
                validate_object(obj)
                print(f"ok   {label}")
            except Exception as err:
                problems.append(f"{label}: {getattr(err, 'message', err)}")
        kinds = {o["kind"] for o in objects}
        for needed in ("Deployment", "Service", "PodDisruptionBudget", "ScaledObject"):
            if needed not in kinds:
                problems.append(f"{directory.relative_to(ROOT)}: no {needed}")

    known = exported_metrics()
    rules = yaml.safe_load((DEPLOY / "monitoring/alerts.yaml").read_text())
    expressions = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            for key in ("alert", "expr", "labels", "annotations"):
                if key not in rule:
                    problems.append(f"alerts.yaml: rule {rule.get('alert')} has no {key}")
            expressions.append(rule.get("expr", ""))
    problems += check_queries("alerts.yaml", expressions, known)
    dashboard = json.loads((DEPLOY / "monitoring/grafana-dashboard.json").read_text())
    targets = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    if not targets:
        problems.append("grafana-dashboard.json: no panel queries anything")
    problems += check_queries("grafana-dashboard.json", targets, known)
    print(f"ok   monitoring: {len(expressions)} alert rules, {len(targets)} dashboard queries")

    for problem in problems:
        print(f"FAIL {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
