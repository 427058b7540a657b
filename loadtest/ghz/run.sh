#!/usr/bin/env bash
# Runs one ghz configuration of this folder against a Tessera server, through server reflection (no .proto files),
# bounded in count (the config's "total") and time (CAP seconds). Installs ghz with `go install` when it is missing.
#   loadtest/ghz/run.sh generate    # Inference/Generate: 200 calls, 8 at a time
#   loadtest/ghz/run.sh session     # Inference/Session: 100 streams, each 4 generate jobs
#   loadtest/ghz/run.sh detect      # Inference/Detect: 100 streams, each 3 frames (32x32 RGB8)
# The address is TESSERA_ADDR (host:port, default 127.0.0.1:8080), as for every client. Extra arguments go to ghz
# (e.g. --total 50 --format json). ghz times whole calls only: for TTFT, ITL and goodput use bin/engine loadtest.
# Exits non-zero when ghz reports a status other than OK.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
name="${1:?usage: run.sh generate|session|detect [ghz options]}"
shift
config="$here/$name.json"
[[ -f "$config" ]] || { echo "run.sh: no $config" >&2; exit 2; }
ADDR="${TESSERA_ADDR:-127.0.0.1:8080}"
CAP="${CAP:-120}"
GHZ_VERSION="v0.121.0"

if ! command -v ghz >/dev/null 2>&1; then
  gobin="$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"
  if [[ ! -x "$gobin/ghz" ]]; then
    echo "run.sh: installing ghz $GHZ_VERSION with go install" >&2
    go install "github.com/bojand/ghz/cmd/ghz@$GHZ_VERSION"
  fi
  export PATH="$gobin:$PATH"
fi

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
timeout "$CAP" ghz --config "$config" --format summary "$@" "$ADDR" | tee "$out"
if awk '/Status code distribution:/{f=1;next} f && NF' "$out" | grep -vq '\[OK\]'; then
  echo "run.sh: FAILED (non-OK statuses above)" >&2
  exit 1
fi
echo "run.sh: OK" >&2
