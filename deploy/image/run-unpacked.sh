#!/usr/bin/env bash
# Proves the server image works without a container runtime: unpacks gateway/target/jib-image.tar (Jib's
# docker-archive) layer by layer into a root filesystem, copies a model into it, and runs the image's own entrypoint
# and environment there under chroot as the image's user. The server must reach SERVING (gRPC health through
# /readyz) and answer one OpenAI completion; then it gets SIGTERM and must drain and exit 0.
# Needs root (chroot, mounting /proc and /dev as a runtime would) and a model directory (default: builtin:tiny as bin/engine serve writes it to its cache).
#
#   deploy/image/run-unpacked.sh [IMAGE.tar] [MODEL_DIR]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
image="${1:-$repo/gateway/target/jib-image.tar}"
model="${2:-}"
port="${PORT:-18080}"
work="$(mktemp -d /tmp/tessera-image.XXXXXX)"
root="$work/rootfs"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null || true
  umount "$root/proc" 2>/dev/null || true
  umount "$root/dev" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

mkdir -p "$root" "$work/image"
tar -xf "$image" -C "$work/image"
python3 - "$work/image" "$root" "$work/run.env" <<'PY'
import json, os, shlex, sys, tarfile
src, root, env_out = sys.argv[1:4]
manifest = json.load(open(os.path.join(src, "manifest.json")))[0]
for layer in manifest["Layers"]:
    with tarfile.open(os.path.join(src, layer)) as t:
        for m in t.getmembers():
            name = m.name.lstrip("./")
            base = os.path.basename(name)
            if base.startswith(".wh."):  # an OCI whiteout deletes what a lower layer put there
                target = os.path.join(root, os.path.dirname(name), base[4:])
                if os.path.isdir(target) and not os.path.islink(target):
                    import shutil; shutil.rmtree(target)
                elif os.path.lexists(target):
                    os.remove(target)
                continue
            t.extract(m, root, set_attrs=True)
config = json.load(open(os.path.join(src, manifest["Config"])))["config"]
with open(env_out, "w") as f:
    f.write("ENTRYPOINT=(%s)\n" % " ".join(shlex.quote(a) for a in config.get("Entrypoint") or []))
    f.write("ENVS=(%s)\n" % " ".join(shlex.quote(e) for e in config.get("Env") or []))
    f.write("USERSPEC=%s\n" % shlex.quote(config.get("User") or "0"))
PY
# shellcheck disable=SC1091
source "$work/run.env"

if [ -z "$model" ]; then
  model="$(ls -d "${TESSERA_HOME:-$HOME/.cache/tessera}"/models/builtin-tiny-v* 2>/dev/null | sort -V | tail -1)"
  if [ -z "$model" ] || [ ! -d "$model" ]; then
    echo "image: no model given and $model does not exist; run 'bin/engine serve' once or pass a directory" >&2
    exit 2
  fi
fi
mkdir -p "$root/models/model"
cp -r "$model"/. "$root/models/model/"
uid="${USERSPEC%%:*}"
chown -R "$uid:$uid" "$root/models" "$root/var/cache/tessera" 2>/dev/null || true

echo "image: $(du -sh "$root" | cut -f1) unpacked; running ${ENTRYPOINT[*]} serve --model /models/model" >&2
# What a container runtime provides: /proc (the loader resolves the JVM's $ORIGIN rpath through /proc/self/exe)
# and /dev (urandom).
mkdir -p "$root/proc" "$root/dev"
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
# The image has no shell or coreutils: the host's env sets the image's environment, then chroot runs the entrypoint.
env -i "${ENVS[@]}" HOME=/home/tessera "$(command -v chroot)" --userspec="$uid:$uid" "$root" \
    "${ENTRYPOINT[@]}" serve --model /models/model --port "$port" --threads 2 --kv-memory 64MiB \
    > "$work/server.log" 2>&1 &
pid=$!

for _ in $(seq 1 600); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || { echo "image: the server exited:" >&2; cat "$work/server.log" >&2; exit 1; }
  sleep 0.5
done
curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null || { echo "image: not ready in 300 s" >&2; cat "$work/server.log" >&2; exit 1; }
echo "image: SERVING" >&2
answer="$(curl -fsS "http://127.0.0.1:$port/v1/completions" -H 'content-type: application/json' \
    -d '{"prompt": "Hello from the unpacked image", "max_tokens": 8}')"
echo "image: answer: $answer" >&2
echo "$answer" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["usage"]["completion_tokens"] > 0, r'
kill -TERM "$pid"
wait "$pid" && rc=0 || rc=$?
pid=""
echo "image: after SIGTERM the server exited with $rc" >&2
[ "$rc" -eq 0 ] || { cat "$work/server.log" >&2; exit 1; }
echo "image: OK (served from its unpacked root filesystem, drained, exit 0)"
