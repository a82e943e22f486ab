#!/usr/bin/env bash
# Builds istioctl from the Istio module the project pins (the one whose CRDs and samples it reads) into
# the cache outside the repository, and reuses it when it is already there. Prints the binary's path.
# istioctl is a reference for the benchmark and an oracle for tests: the project never runs it for users.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
istio_module="$(sed -n 's/^ISTIO_MODULE = "\(.*\)"$/\1/p' "$here/../controlplane/localcluster.py")"
[ -n "$istio_module" ] || { echo "[istioctl-build] no ISTIO_MODULE in tools/controlplane/localcluster.py" >&2; exit 1; }
istio_version="${istio_module#*@}"

cache_root="${MESHOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshops-istio-integrity}"
bin="$cache_root/istioctl-$istio_version/bin/istioctl"
work_dir="$cache_root/istioctl-$istio_version/build"

log() { printf '[istioctl-build] %s\n' "$*" >&2; }

if [ -x "$bin" ]; then
  log "reusing $bin"
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to build istioctl (go not found on PATH)"; exit 1; }

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$(dirname "$bin")"
rm -rf "$work_dir" && mkdir -p "$work_dir" && cd "$work_dir"
go mod init meshops.invalid/istioctl >/dev/null 2>&1
go mod edit -require="$istio_module"
log "downloading $istio_module (first run only; cached afterwards)"
go get "istio.io/istio/istioctl/cmd/istioctl@$istio_version" 2>"$work_dir/go-get.log" || { cat "$work_dir/go-get.log" >&2; exit 1; }
log "building istioctl (several minutes on 2 cores)"
t0=$(date +%s)
go build -trimpath -ldflags "-s -w" -o "$bin.tmp" istio.io/istio/istioctl/cmd/istioctl
mv "$bin.tmp" "$bin"
log "built istioctl in $(( $(date +%s) - t0 ))s"
echo "$bin"
