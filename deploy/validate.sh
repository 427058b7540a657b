#!/usr/bin/env bash
# Checks every manifest under deploy/ against the schemas Kubernetes and the CRDs' owners publish, in strict mode
# (unknown fields are errors):
#   - core kinds (Deployment, Service, HPA, PDB, RBAC, ConfigMap) with kubernetes-validate (PyPI), which bundles
#     the Kubernetes OpenAPI schemas (Kubernetes 1.33);
#   - custom resources (InferencePool, HTTPRoute, ServiceMonitor) against their CRDs' openAPIV3Schema;
#   - the endpoint picker's EndpointPickerConfig (in a ConfigMap): plugin types the pinned EPP (GIE v1.0.0)
#     registers in its source, and profiles that reference defined plugins with exactly one picker;
#   - each kustomization.yaml lists every manifest of its directory.
# The validator and the upstream trees are fetched once into a cache (PyPI; the Go module proxy, which serves each
# upstream repository's tagged tree as a zip), pinned by version and SHA-256. After that it needs no network.
#
#   deploy/validate.sh        # cache: $TESSERA_VALIDATE_CACHE, default ~/.cache/tessera/deploy-validate
#
# Exit status: 0 valid, 1 invalid, 3 the one-time fetch failed (no network and nothing cached yet).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${TESSERA_VALIDATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tessera/deploy-validate}"
proxy="${TESSERA_GOPROXY:-https://proxy.golang.org}"
mkdir -p "$cache/modules"

if [ ! -x "$cache/venv/bin/python" ] || ! "$cache/venv/bin/python" -c "import kubernetes_validate, yaml, jsonschema" 2>/dev/null; then
  echo "validate: installing kubernetes-validate into $cache/venv (once)" >&2
  rm -rf "$cache/venv"
  python3 -m venv "$cache/venv" || exit 3
  "$cache/venv/bin/pip" install -q --disable-pip-version-check "kubernetes-validate==1.33.0" "PyYAML>=6" \
      "jsonschema>=4.17" || { rm -rf "$cache/venv"; echo "validate: cannot install kubernetes-validate" >&2; exit 3; }
fi

# module@version  SHA-256 of the module zip (as the proxy serves it; the Go checksum database vouches for these)
modules=(
  "sigs.k8s.io/gateway-api-inference-extension@v1.0.0 6548475aeb9c24d88e0bf106246937f7af06e58f6f35e907e07b1956307c4024"
  "sigs.k8s.io/gateway-api@v1.3.0 9f9810c8c36fa3524bd1f388cbe273d1a26f34fee913526ab611fadb4f295deb"
  "github.com/prometheus-operator/prometheus-operator@v0.85.0 0bdb88ed823d0f2e86cf909638439b6ad1da744a228172c7411d9987527dc5d1"
)
for entry in "${modules[@]}"; do
  set -- $entry
  zip="$cache/modules/$(echo "$1" | tr '/@' '__').zip"
  if [ ! -f "$zip" ]; then
    echo "validate: fetching $1 from $proxy (once)" >&2
    curl -fsSL --retry 3 -o "$zip.part" "$proxy/${1%@*}/@v/${1#*@}.zip" \
        || { echo "validate: cannot fetch $1" >&2; exit 3; }
    mv "$zip.part" "$zip"
  fi
  echo "$2  $zip" | sha256sum -c --quiet - || { echo "validate: $zip does not match its pinned SHA-256" >&2; exit 1; }
done

exec "$cache/venv/bin/python" "$here/validate.py" --modules "$cache/modules" "$here/k8s" "$here/prometheus-adapter"
