#!/usr/bin/env bash
# A short, bounded smoke load against tessera.v1.Inference/Generate with ghz, through server reflection (no
# .proto files). Installs ghz with `go install` when it is missing.
#   TESSERA_ADDR=127.0.0.1:8080 N=200 C=8 MAX_TOKENS=16 CAP=120 loadtest/ghz/smoke.sh
# The server's address is TESSERA_ADDR (host:port), as for every client; HOST and PORT override its parts.
# Exits non-zero when ghz reports errors.
set -euo pipefail
ADDR="${TESSERA_ADDR:-127.0.0.1:8080}"
HOST="${HOST:-${ADDR%:*}}"
PORT="${PORT:-${ADDR##*:}}"
N="${N:-200}"              # total requests
C="${C:-8}"                # concurrent workers
CAP="${CAP:-120}"          # hard upper bound on the run, seconds
MAX_TOKENS="${MAX_TOKENS:-16}"
GHZ_VERSION="v0.121.0"

if ! command -v ghz >/dev/null 2>&1; then
  gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
  if [[ ! -x "$gobin/ghz" ]]; then
    echo "smoke.sh: installing ghz $GHZ_VERSION with go install" >&2
    go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  fi
  export PATH="$gobin:$PATH"
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
timeout "$CAP" ghz --insecure \
  --call tessera.v1.Inference/Generate \
  --data "{\"prompt\":\"Hello from ghz\",\"sampling\":{\"max_tokens\":$MAX_TOKENS,\"temperature\":0}}" \
  --total "$N" --concurrency "$C" \
  --timeout 30s \
  --format summary \
  "$HOST:$PORT" | tee "$out"

# ghz lists non-OK statuses under "Status code distribution"; anything but OK fails the smoke test.
if awk '/Status code distribution:/{f=1;next} f && NF' "$out" | grep -vq '\[OK\]'; then
  echo "smoke.sh: FAILED (non-OK statuses above)" >&2
  exit 1
fi
echo "smoke.sh: OK" >&2
