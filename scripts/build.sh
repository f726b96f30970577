#!/usr/bin/env bash
# Builds each Lambda function into build/<function>/bootstrap and
# build/<function>.zip, for the provided.al2023 runtime: linux, GOARCH
# (default arm64), no cgo, -tags lambda.norpc.
set -euo pipefail
cd "$(dirname "$0")/.."
GOARCH=${GOARCH:-arm64}
VERSION=${VERSION:-$(git describe --always --dirty 2>/dev/null || echo dev)}
ldflags="-s -w -X github.com/ai-rails/state-service/shared/health.Version=${VERSION}"
mkdir -p build
for dir in functions/*/; do
  fn=$(basename "$dir")
  [[ $fn == local || $fn == internal || ! -f $dir/main.go ]] && continue
  out=build/$fn
  mkdir -p "$out"
  (cd functions && CGO_ENABLED=0 GOOS=linux GOARCH=$GOARCH go build -tags lambda.norpc -trimpath \
      -ldflags "$ldflags" -o "../$out/bootstrap" "./$fn")
  rm -f "build/$fn.zip"
  (cd "$out" && zip -q -X "../$fn.zip" bootstrap)
  echo "built build/$fn.zip (linux/$GOARCH, $(du -h "$out/bootstrap" | cut -f1))"
done
