#!/usr/bin/env bash
# Builds the Warren node image (warren-agent, warren-tunnel, warren-cni, warrenctl,
# install-cni.sh) from a build tree, with buildah and no registry: the image is
# `scratch` plus a root file system assembled here from the stripped binaries, the
# shared libraries ldd lists for them, and the few host programs install-cni.sh
# runs (dash, coreutils, jq). No package is downloaded and nothing is compiled, so
# it takes seconds.
#
#   bash scripts/build-image.sh [options]
#     --build-dir DIR   the build tree (default build)
#     --tag REF         image name (default warren:dev, the manifests' image)
#     --archive FILE    also write a docker-archive tarball for `kind load
#                       image-archive` / `k3s ctr images import` (default
#                       <build-dir>/warren-image.tar; "" for none)
#     --storage DIR     keep the image in its own containers-storage under DIR
#                       (vfs driver) instead of the default store; for tests
#
# Prints the image's size and how long the build took.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=build
tag=warren:dev
archive=unset
storage=
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --tag) tag=$2; shift 2 ;;
    --archive) archive=$2; shift 2 ;;
    --storage) storage=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown option $1 (--help lists them)" >&2; exit 2 ;;
  esac
done
[ "$archive" = unset ] && archive=$build_dir/warren-image.tar

if [ "$(id -u)" -ne 0 ]; then
  echo "build-image: run as root (buildah writes the system's container storage)" >&2
  exit 1
fi
for tool in buildah ldd strip jq dash; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool is missing: run scripts/install-deps.sh" >&2; exit 1; }
done

# What the DaemonSet's containers and a waypoint's Deployment (daemonset/waypoint) run,
# and what install-cni.sh calls.
binaries=(warren-agent warren-tunnel warren-waypoint warren-cni warrenctl)
host_programs=(/usr/bin/dash /usr/bin/jq /usr/bin/cp /usr/bin/mv /usr/bin/rm /usr/bin/cat /usr/bin/mkdir
               /usr/bin/sleep /usr/bin/cmp /usr/bin/ls /usr/bin/sha256sum /usr/bin/basename)
for b in "${binaries[@]}"; do
  [ -x "$build_dir/bin/$b" ] || { echo "build-image: $build_dir/bin/$b is missing: build first (scripts/build.sh $build_dir)" >&2; exit 1; }
done

start=$(date +%s.%N)
rootfs=$(mktemp -d /tmp/warren-rootfs.XXXXXX)
ctr=
buildah_args=()
if [ -n "$storage" ]; then
  mkdir -p "$storage"
  buildah_args=(--root "$storage/root" --runroot "$storage/run" --storage-driver vfs)
fi
cleanup() {
  [ -n "$ctr" ] && buildah "${buildah_args[@]}" rm "$ctr" >/dev/null 2>&1
  rm -rf "$rootfs"
}
trap cleanup EXIT

mkdir -p "$rootfs"/{usr/local/bin,usr/bin,bin,tmp,etc/warren,run/warren,var/lib/warren,proc,sys,dev}
chmod 1777 "$rootfs/tmp"
# Debug info stays in the build tree: it is most of a RelWithDebInfo binary.
for b in "${binaries[@]}"; do
  strip --strip-debug -o "$rootfs/usr/local/bin/$b" "$build_dir/bin/$b"
done
install -m 0755 daemonset/install-cni.sh "$rootfs/usr/local/bin/install-cni.sh"
for p in "${host_programs[@]}"; do
  cp "$p" "$rootfs/usr/bin/"
done
ln -s /usr/bin/dash "$rootfs/bin/sh"

# Every shared library any of them loads, at the path the loader looks for it
# (ldd's resolution), plus the loader itself.
libs=$(for f in "$rootfs"/usr/local/bin/* "$rootfs"/usr/bin/*; do
         [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
         ldd "$f" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'
       done | sort -u)
for lib in $libs; do
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# Debian's /lib is a link to usr/lib; keep the same shape so both spellings resolve.
for d in lib lib64; do
  if [ -d "$rootfs/$d" ] && [ ! -L "$rootfs/$d" ]; then
    mkdir -p "$rootfs/usr/$d"
    cp -a "$rootfs/$d/." "$rootfs/usr/$d/"
    rm -rf "${rootfs:?}/$d"
  fi
  [ -e "$rootfs/usr/$d" ] && ln -s "usr/$d" "$rootfs/$d"
done
# Names for uid/gid 0 (ls -l, error messages); nothing else reads them.
echo 'root:x:0:0:root:/:/bin/sh' >"$rootfs/etc/passwd"
echo 'root:x:0:' >"$rootfs/etc/group"

version=$(git describe --always --dirty 2>/dev/null || echo unknown)
ctr=$(buildah "${buildah_args[@]}" from --quiet scratch)
buildah "${buildah_args[@]}" copy --quiet "$ctr" "$rootfs" / >/dev/null
buildah "${buildah_args[@]}" config \
  --label org.opencontainers.image.title=warren \
  --label org.opencontainers.image.version="$version" \
  --env PATH=/usr/local/bin:/usr/bin:/bin \
  --workingdir / \
  --entrypoint '[]' --cmd /usr/local/bin/warren-agent "$ctr"
buildah "${buildah_args[@]}" commit --quiet --rm "$ctr" "$tag" >/dev/null
ctr=
if [ -n "$archive" ]; then
  rm -f "$archive"
  # docker-archive: what `kind load image-archive` and `k3s ctr images import` read.
  buildah "${buildah_args[@]}" push --quiet "$tag" "docker-archive:$archive:$tag" >/dev/null
fi
end=$(date +%s.%N)

size=$(buildah "${buildah_args[@]}" inspect --type image --format '{{.Docker.Size}}' "$tag" 2>/dev/null || true)
[ "${size:-0}" -gt 0 ] 2>/dev/null || size=$(du -sb "$rootfs" | cut -f1)
summary=$(awk -v s="$size" -v a="$start" -v b="$end" 'BEGIN { printf "%.1f MB, built in %.1f s", s / 1e6, b - a }')
[ -n "$archive" ] && summary+=$(awk -v s="$(stat -c %s "$archive")" -v f="$archive" 'BEGIN { printf "; archive %s (%.1f MB)", f, s / 1e6 }')
echo "build-image: $tag ($version): $summary"
