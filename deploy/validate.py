"""The checks behind deploy/validate.sh (see there). Exit status 1 lists every failure."""
import argparse
import copy
import pathlib
import re
import sys
import zipfile

import jsonschema
import kubernetes_validate
import yaml

KUBERNETES = "1.33.0"
# (module zip name, path inside the module) of each CRD the manifests use.
CRDS = [
    ("sigs.k8s.io_gateway-api-inference-extension_v1.0.0.zip",
     "config/crd/bases/inference.networking.k8s.io_inferencepools.yaml"),
    ("sigs.k8s.io_gateway-api_v1.3.0.zip", "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml"),
    ("github.com_prometheus-operator_prometheus-operator_v0.85.0.zip",
     "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml"),
]
EPP_ZIP = "sigs.k8s.io_gateway-api-inference-extension_v1.0.0.zip"


def read_member(zip_path, suffix):
    with zipfile.ZipFile(zip_path) as z:
        for name in z.namelist():
            if name.split("/", 2)[-1] == suffix or name.endswith("/" + suffix):
                return z.read(name).decode()
    raise SystemExit(f"{zip_path.name} has no {suffix}")


def strict(schema):
    """A structural schema as the API server applies it: fields not declared are errors (not pruned)."""
    s = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if node.get("type") == "object" and "properties" in node \
                    and not node.get("x-kubernetes-preserve-unknown-fields") and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(s)
    return s


def crd_schemas(modules):
    out = {}
    for zip_name, member in CRDS:
        crd = yaml.safe_load(read_member(modules / zip_name, member))
        group = crd["spec"]["group"]
        kind = crd["spec"]["names"]["kind"]
        for v in crd["spec"]["versions"]:
            if v.get("served", True):
                out[(f"{group}/{v['name']}", kind)] = strict(v["schema"]["openAPIV3Schema"])
    return out


def epp_plugin_types(modules):
    """Plugin types the pinned EPP registers: the `...Type = "name"` constants of its non-test sources."""
    types = set()
    with zipfile.ZipFile(modules / EPP_ZIP) as z:
        for name in z.namelist():
            if "/pkg/epp/" in name and name.endswith(".go") and not name.endswith("_test.go"):
                types.update(re.findall(r'\w+Type\s*=\s*"([a-z0-9-]+)"', z.read(name).decode()))
    return types


def check_epp_config(where, text, known, errors):
    cfg = yaml.safe_load(text)
    if cfg.get("apiVersion") != "inference.networking.x-k8s.io/v1alpha1" or cfg.get("kind") != "EndpointPickerConfig":
        errors.append(f"{where}: not an inference.networking.x-k8s.io/v1alpha1 EndpointPickerConfig")
        return
    names = {}
    for p in cfg.get("plugins") or []:
        t = p.get("type")
        if t not in known:
            errors.append(f"{where}: plugin type {t!r} is not one the EPP registers ({', '.join(sorted(known))})")
        names[p.get("name", t)] = t
    profiles = cfg.get("schedulingProfiles") or []
    if not profiles:
        errors.append(f"{where}: no schedulingProfiles")
    for prof in profiles:
        refs = [r.get("pluginRef") for r in prof.get("plugins") or []]
        for r in refs:
            if r not in names:
                errors.append(f"{where}: profile {prof.get('name')!r} references undefined plugin {r!r}")
        pickers = [r for r in refs if names.get(r, "").endswith("-picker")]
        if len(pickers) != 1:
            errors.append(f"{where}: profile {prof.get('name')!r} needs exactly one picker, has {pickers}")


def check_doc(doc, where, schemas, plugin_types, errors):
    key = (doc.get("apiVersion"), doc.get("kind"))
    if key in schemas:
        for e in jsonschema.Draft7Validator(schemas[key]).iter_errors(doc):
            errors.append(f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message}")
    else:
        try:
            kubernetes_validate.validate(doc, KUBERNETES, strict=True)
        except kubernetes_validate.ValidationError as e:
            errors.append(f"{where}: {'/'.join(map(str, e.path))}: {e.message}")
        except kubernetes_validate.SchemaNotFoundError:
            errors.append(f"{where}: no schema for {key} (neither Kubernetes {KUBERNETES} nor a pinned CRD)")
    if doc.get("kind") == "ConfigMap":
        for k, text in (doc.get("data") or {}).items():
            if "EndpointPickerConfig" in text:
                check_epp_config(f"{where} data.{k}", text, plugin_types, errors)


def self_test(docs, schemas, plugin_types):
    """Each seeded mistake must be caught, or the checks above prove nothing."""
    def find(kind, name=None):
        for d in docs:
            if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name):
                return copy.deepcopy(d)
        raise SystemExit(f"self-test: no {kind} {name or ''} among the manifests")

    def epp(mutate):
        cm = find("ConfigMap", "tessera-epp")
        key = next(iter(cm["data"]))
        cfg = yaml.safe_load(cm["data"][key])
        mutate(cfg)
        cm["data"][key] = yaml.safe_dump(cfg)
        return cm

    def with_(doc, mutate):
        mutate(doc)
        return doc

    cases = {
        "unknown container field": with_(find("Deployment", "tessera"), lambda d: d["spec"]["template"]["spec"][
            "containers"][0].__setitem__("imagePullPolicyy", "Always")),
        "probe port as a list": with_(find("Deployment", "tessera"), lambda d: d["spec"]["template"]["spec"][
            "containers"][0]["readinessProbe"]["httpGet"].__setitem__("port", [8080])),
        "InferencePool unknown field": with_(find("InferencePool"), lambda d: d["spec"].__setitem__("targetPort", 1)),
        "InferencePool port out of range": with_(find("InferencePool"), lambda d: d["spec"]["targetPorts"][0]
                                                 .__setitem__("number", 70000)),
        "HTTPRoute backendRef typo": with_(find("HTTPRoute"), lambda d: d["spec"]["rules"][0]["backendRefs"][0]
                                           .__setitem__("nme", "x")),
        "ServiceMonitor endpoint typo": with_(find("ServiceMonitor"), lambda d: d["spec"]["endpoints"][0]
                                              .__setitem__("intervall", "5s")),
        "EPP unknown plugin type": epp(lambda c: c["plugins"][1].__setitem__("type", "queue-scorrer")),
        "EPP profile without a picker": epp(lambda c: c["schedulingProfiles"][0].__setitem__(
            "plugins", [p for p in c["schedulingProfiles"][0]["plugins"] if "picker" not in p["pluginRef"]])),
        "EPP undefined pluginRef": epp(lambda c: c["schedulingProfiles"][0]["plugins"].append({"pluginRef": "nope"})),
    }
    missed = []
    self_test.total = len(cases)
    for what, doc in cases.items():
        errs = []
        check_doc(doc, what, schemas, plugin_types, errs)
        if not errs:
            missed.append(what)
    for m in missed:
        print("FAIL self-test: a seeded mistake passed:", m)
    return missed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--modules", type=pathlib.Path, required=True)
    ap.add_argument("dirs", type=pathlib.Path, nargs="+")
    args = ap.parse_args()
    schemas = crd_schemas(args.modules)
    plugin_types = epp_plugin_types(args.modules)
    errors = []
    docs = []
    checked = 0
    for d in args.dirs:
        files = sorted(p for p in d.glob("*.yaml") if p.name != "kustomization.yaml")
        kustomization = d / "kustomization.yaml"
        if kustomization.exists():
            listed = set(yaml.safe_load(kustomization.read_text()).get("resources") or [])
            for f in files:
                if f.name not in listed:
                    errors.append(f"{kustomization}: does not list {f.name}")
            for name in listed - {f.name for f in files}:
                errors.append(f"{kustomization}: lists {name}, which does not exist")
        for f in files:
            for i, doc in enumerate(yaml.safe_load_all(f.read_text())):
                if doc is None:
                    continue
                where = f"{f.relative_to(f.parent.parent)}[{i}] {doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
                check_doc(doc, where, schemas, plugin_types, errors)
                docs.append(doc)
                checked += 1
    for e in errors:
        print("FAIL", e)
    missed = self_test(docs, schemas, plugin_types)
    print(f"validate: {checked} resources checked against Kubernetes {KUBERNETES} and {len(CRDS)} pinned CRDs, "
          f"{len(errors)} failure(s); self-test: {self_test.total - len(missed)}/{self_test.total} seeded mistakes caught")
    return 1 if errors or missed else 0


if __name__ == "__main__":
    sys.exit(main())
