#!/usr/bin/env bash
# README command 2: install what the tests need (idempotent) and run the whole suite:
# type check, lint, format check, then unit and integration tests (real SQLite, etcd and kubectl).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test
export FLOTILLA_KUBECTL_DIR="${FLOTILLA_CACHE:-$HOME/.cache/flotilla}/kubectl"
npm run -s typecheck
npm run -s lint
npm run -s format:check
npx vitest run "$@"
