#!/usr/bin/env bash
# Builds etcd, kube-apiserver and kube-controller-manager from the Go module proxy
# into a cache outside the repository, and reuses them when they are already there.
#
# Kubernetes is not consumable as a plain Go dependency: its go.mod replaces every
# staging module (k8s.io/api, k8s.io/apiserver, ...) with a local ./staging path.
# The wrapper module below re-points each of those replaces to the published
# v0.<minor>.<patch> module, reading the list from the release's own go.mod.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/controlplane/versions.env
source "$here/versions.env"

cache_root="${MESHOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshops-istio-integrity}"
bin_dir="$cache_root/$KUBERNETES_VERSION/bin"
work_dir="$cache_root/$KUBERNETES_VERSION/build"
binaries=(etcd kube-apiserver kube-controller-manager)

log() { printf '[controlplane-build] %s\n' "$*" >&2; }

all_built() {
  local name
  for name in "${binaries[@]}"; do
    [ -x "$bin_dir/$name" ] || return 1
  done
}

if all_built; then
  log "reusing binaries in $bin_dir"
  echo "$bin_dir"
  exit 0
fi

command -v go >/dev/null || { log "Go is required to build the control plane (go not found on PATH)"; exit 1; }

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
started=$(date +%s)
mkdir -p "$bin_dir" "$work_dir"

staging_version="v0.${KUBERNETES_VERSION#v1.}"

log "resolving k8s.io/kubernetes@$KUBERNETES_VERSION ($(go version | cut -d' ' -f3))"
release_gomod="$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" |
  sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
[ -f "$release_gomod" ] || { log "could not download the go.mod of k8s.io/kubernetes@$KUBERNETES_VERSION"; exit 1; }

# Staging modules: every "k8s.io/x => ./staging/..." line of the release's go.mod.
mapfile -t staging_modules < <(awk '$2 == "=>" && $3 ~ /^\.\/staging\// {print $1}' "$release_gomod")
[ "${#staging_modules[@]}" -gt 0 ] || { log "no staging replaces found in $release_gomod"; exit 1; }
# etcd: the server version the release itself depends on.
etcd_version="$(awk '$1 == "go.etcd.io/etcd/server/v3" {print $2}' "$release_gomod")"
[ -n "$etcd_version" ] || { log "no go.etcd.io/etcd/server/v3 requirement in $release_gomod"; exit 1; }
log "${#staging_modules[@]} staging modules -> $staging_version; etcd $etcd_version"

build_kubernetes() {
  local mod="$work_dir/kubernetes"
  rm -rf "$mod" && mkdir -p "$mod" && cd "$mod"
  go mod init meshops.invalid/controlplane/kubernetes >/dev/null 2>&1
  local edits=(-require="k8s.io/kubernetes@$KUBERNETES_VERSION")
  local module
  for module in "${staging_modules[@]}"; do
    edits+=(-replace="$module=$module@$staging_version")
  done
  go mod edit "${edits[@]}"
  log "downloading kubernetes module graph (first run only; cached afterwards)"
  go get "k8s.io/kubernetes/cmd/kube-apiserver@$KUBERNETES_VERSION" \
         "k8s.io/kubernetes/cmd/kube-controller-manager@$KUBERNETES_VERSION"
  local version_pkg=k8s.io/component-base/version
  local minor="${KUBERNETES_VERSION#v1.}"; minor="${minor%%.*}"
  local ldflags="-s -w -X $version_pkg.gitVersion=$KUBERNETES_VERSION -X $version_pkg.gitMajor=1 -X $version_pkg.gitMinor=$minor"
  local cmd
  for cmd in kube-apiserver kube-controller-manager; do
    log "building $cmd (this takes several minutes on 2 cores)"
    local t0; t0=$(date +%s)
    go build -trimpath -ldflags "$ldflags" -o "$bin_dir/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd"
    mv "$bin_dir/$cmd.tmp" "$bin_dir/$cmd"
    log "built $cmd in $(( $(date +%s) - t0 ))s"
  done
}

build_etcd() {
  local mod="$work_dir/etcd"
  rm -rf "$mod" && mkdir -p "$mod" && cd "$mod"
  go mod init meshops.invalid/controlplane/etcd >/dev/null 2>&1
  go mod edit -require="go.etcd.io/etcd/server/v3@$etcd_version"
  go get "go.etcd.io/etcd/server/v3@$etcd_version"
  log "building etcd $etcd_version"
  local t0; t0=$(date +%s)
  go build -trimpath -ldflags "-s -w" -o "$bin_dir/etcd.tmp" go.etcd.io/etcd/server/v3
  mv "$bin_dir/etcd.tmp" "$bin_dir/etcd"
  log "built etcd in $(( $(date +%s) - t0 ))s"
}

[ -x "$bin_dir/etcd" ] || build_etcd
if [ ! -x "$bin_dir/kube-apiserver" ] || [ ! -x "$bin_dir/kube-controller-manager" ]; then
  build_kubernetes
fi
log "control plane binaries ready in $bin_dir (took $(( $(date +%s) - started ))s)"
echo "$bin_dir"
