#!/usr/bin/env bash
# README command 1: install what Flotilla needs (idempotent) and start a single-node cluster on the embedded
# SQLite store. Extra arguments go to `flotilla up` (e.g. --data-dir, --listen).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
exec node bin/flotilla.js up "$@"
