#!/usr/bin/env bash
# Assembles the server image's base offline, as a docker-archive tarball Jib builds FROM (tar://):
#   - a Java runtime jlinked from the local JDK (17+) with the modules the server uses (jdeps over its classpath,
#     plus the two it loads as services: jdk.crypto.ec for TLS and jdk.zipfs);
#   - the few Debian libraries the JVM and ONNX Runtime's native library need (libc6, zlib1g, libstdc++6,
#     libgcc-s1), fetched with apt-get download and unpacked, nothing installed on this machine;
#   - /tmp (ONNX Runtime unpacks its native library there) and a passwd entry for the non-root user 65532.
# Writes deploy/image/target/tessera-base.tar. No registry, no Docker engine.
#
#   deploy/image/build-base.sh
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/target"
work="$out/base"
rm -rf "$work" && mkdir -p "$work/rootfs" "$work/debs"
rootfs="$work/rootfs"

modules="java.base,java.compiler,java.desktop,java.instrument,java.logging,java.management,java.naming,\
java.security.jgss,java.sql,jdk.attach,jdk.incubator.vector,jdk.jdi,jdk.jfr,jdk.management,jdk.unsupported,\
jdk.crypto.ec,jdk.zipfs"
echo "base: jlink $modules" >&2
jlink --add-modules "$modules" --strip-debug --no-header-files --no-man-pages --compress=2 \
      --output "$rootfs/opt/java" 2>&1 | grep -v "is deprecated" >&2 || true
test -x "$rootfs/opt/java/bin/java"

echo "base: apt-get download libc6 zlib1g libstdc++6 libgcc-s1" >&2
(cd "$work/debs" && apt-get download libc6 zlib1g libstdc++6 libgcc-s1 >/dev/null 2>&1 \
   || { apt-get update -qq >/dev/null 2>&1 && apt-get download libc6 zlib1g libstdc++6 libgcc-s1 >/dev/null; })
for deb in "$work"/debs/*.deb; do dpkg-deb -x "$deb" "$rootfs"; done
rm -rf "$rootfs/usr/share/doc" "$rootfs/usr/share/man" "$rootfs/usr/share/locale" "$rootfs/usr/share/lintian"

mkdir -p "$rootfs/tmp" "$rootfs/etc" "$rootfs/var/cache/tessera" "$rootfs/home/tessera"
chmod 1777 "$rootfs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\ntessera:x:65532:65532:tessera:/home/tessera:/sbin/nologin\n' \
    > "$rootfs/etc/passwd"
printf 'root:x:0:\ntessera:x:65532:\n' > "$rootfs/etc/group"
printf '127.0.0.1 localhost\n::1 localhost\n' > "$rootfs/etc/hosts"
chown -R 65532:65532 "$rootfs/var/cache/tessera" "$rootfs/home/tessera" 2>/dev/null || true

python3 "$here/make_base_tar.py" "$rootfs" "$out/tessera-base.tar"
echo "base: $out/tessera-base.tar ($(du -h "$out/tessera-base.tar" | cut -f1))" >&2
