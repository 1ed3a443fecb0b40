#!/usr/bin/env bash
# Idempotent set-up for a fresh Debian machine with Node 20 and npm, run as root.
#   scripts/setup.sh          runtime packages, npm ci, build
#   scripts/setup.sh --test   also the packages and binaries the test suite uses (etcd, kubectl)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

runtime_pkgs=(runc conmon containernetworking-plugins iptables nftables conntrack iproute2 util-linux attr)
test_pkgs=(etcd-server docker-registry skopeo umoci busybox-static unzip ca-certificates)
# Native addon (better-sqlite3) builds from source when no prebuilt binary fits.
build_pkgs=(python3 make g++)

pkgs=("${runtime_pkgs[@]}" "${build_pkgs[@]}")
[ $want_test = 1 ] && pkgs+=("${test_pkgs[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# npm ci only when the lock file changed since the last install.
stamp=node_modules/.flotilla-lock-hash
hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$hash" > "$stamp"
fi

echo "setup: build"
npm run -s build

if [ $want_test = 1 ]; then
  scripts/fetch-kubectl.sh >/dev/null
fi
echo "setup: done"
