#!/usr/bin/env bash
# Builds the upstream Ansible Operator (the binary the operator-framework base image runs) from the Go
# module proxy into the cache outside the repository, and reuses it when it is already there. Prints
# the binary's path.
#
# `go install ...@version` is refused because the proxy does not serve the module's version list; a
# small wrapper module that requires the exact version and `go build`s its command works.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tools/operator/versions.env
source "$here/versions.env"

cache_root="${MESHOPS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meshops-istio-integrity}"
bin="$cache_root/ansible-operator-$ANSIBLE_OPERATOR_VERSION/bin/ansible-operator"
work_dir="$cache_root/ansible-operator-$ANSIBLE_OPERATOR_VERSION/build"
module=github.com/operator-framework/ansible-operator-plugins

log() { printf '[operator-build] %s\n' "$*" >&2; }

if [ -x "$bin" ]; then
  log "reusing $bin"
  echo "$bin"
  exit 0
fi
command -v go >/dev/null || { log "Go is required to build the Ansible Operator (go not found on PATH)"; exit 1; }

export CGO_ENABLED=0 GOTOOLCHAIN=local GOFLAGS=-mod=mod
mkdir -p "$(dirname "$bin")"
rm -rf "$work_dir" && mkdir -p "$work_dir" && cd "$work_dir"
go mod init meshops.invalid/ansible-operator >/dev/null 2>&1
go mod edit -require="$module@$ANSIBLE_OPERATOR_VERSION"
log "downloading $module@$ANSIBLE_OPERATOR_VERSION (first run only; cached afterwards)"
go get "$module/cmd/ansible-operator@$ANSIBLE_OPERATOR_VERSION" 2>"$work_dir/go-get.log" || { cat "$work_dir/go-get.log" >&2; exit 1; }
log "building ansible-operator (several minutes on 2 cores)"
t0=$(date +%s)
# The version the binary reports (`ansible-operator version`), as the upstream Makefile stamps it.
ldflags="-s -w -X $module/internal/version.Version=$ANSIBLE_OPERATOR_VERSION"
go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$module/cmd/ansible-operator"
mv "$bin.tmp" "$bin"
log "built ansible-operator in $(( $(date +%s) - t0 ))s"
echo "$bin"
