#!/usr/bin/env bash
# Installs the Debian packages Warren needs to build, test and run its demo.
# Idempotent and quiet: it only calls apt-get when a package is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang llvm libclang-rt-14-dev clang-format-14 clang-tidy-14
  libbpf-dev bpftool libelf-dev zlib1g-dev
  libssl-dev libnghttp2-dev
  libprotobuf-dev protobuf-compiler libgrpc++-dev protobuf-compiler-grpc
  libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev
  containernetworking-plugins iproute2 jq curl
  tcpdump iperf3 socat stunnel4 nodejs
  libhttp-parser-dev nghttp2-client nghttp2-server haproxy ccache lld
  buildah podman runc
  # the audit report's HTML is checked by a validator and a parser (tests/unit/audit)
  tidy libxml2-dev
)

# kubectl renders the kustomize overlays (tests/deploy): Debian's is
# kubernetes-client (1.20), which cannot be installed over another package's
# /usr/bin/kubectl; any kubectl with `kustomize` renders the overlays the same.
command -v kubectl >/dev/null || packages+=(kubernetes-client)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages (${missing[*]}); run as root to install them" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
