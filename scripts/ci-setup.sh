#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine: redis-server (the
# tests start their own, on free ports) and redis-benchmark (make bench's
# Redis ceiling), zip (for make build) and chromium
# (the approval page's browser tests), and what make test-n8n needs. Node and npm
# must be there already: make test installs the official Upstash SDK with npm.
set -euo pipefail
missing=()
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-benchmark >/dev/null || missing+=(redis-tools)
command -v zip >/dev/null || missing+=(zip)
command -v chromium >/dev/null || missing+=(chromium)
# make test-n8n: jq and openssl in the script; g++, make and python3 to
# build n8n's sqlite3 driver.
command -v jq >/dev/null || missing+=(jq)
command -v openssl >/dev/null || missing+=(openssl)
command -v g++ >/dev/null && command -v make >/dev/null || missing+=(build-essential)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  sudo=""
  [[ $(id -u) -ne 0 ]] && sudo=sudo
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${missing[@]}"
fi
command -v go >/dev/null || { echo "go is not on PATH" >&2; exit 1; }
command -v node >/dev/null && command -v npm >/dev/null || { echo "node and npm are needed for the Upstash SDK check" >&2; exit 1; }
redis-server --version
chromium --version 2>/dev/null  # its wrapper script warns on stderr
go version
node --version
