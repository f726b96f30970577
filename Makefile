# AI Rails state service. `make run` starts the local stack; `make test` runs
# every module's tests. See README.md.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
GO          ?= go
GOARCH      ?= arm64
MODULES     := shared functions
FUZZTIME    ?= 10s
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help run test test-race cover bench build lint fuzz backup restore clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## start the local stack on http://127.0.0.1:3000 (embedded store unless REDIS_URL or UPSTASH_REDIS_REST_URL)
	$(GO) run ./functions/local

SDK_CHECK := scripts/upstash-sdk-check/node_modules/.package-lock.json

# The official Upstash SDK, which the REST server's tests run against it.
$(SDK_CHECK): scripts/upstash-sdk-check/package-lock.json
	npm ci --no-audit --no-fund --prefix scripts/upstash-sdk-check

test: $(SDK_CHECK) ## run every module's tests (CI=true turns a missing redis-server into a failure)
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 ./...); done

test-race: $(SDK_CHECK) ## the tests under the race detector
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 -race ./...); done

cover: ## statement coverage of shared/, from its tests
	@mkdir -p build
	cd shared && $(GO) test -count=1 -coverpkg=./... -coverprofile=../build/cover.out ./... >/dev/null
	$(GO) tool cover -func=build/cover.out | tail -1

bench: ## benchmarks (BENCH selects, default all), with allocations and latency percentiles
	cd shared && $(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchmem -benchtime 2s ./...
	cd functions && $(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchmem -benchtime 3s ./local/

build: ## build/<function>/bootstrap and build/<function>.zip for linux/$(GOARCH)
	GOARCH=$(GOARCH) VERSION=$(VERSION) scripts/build.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l shared functions); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fuzz: ## run every fuzz target for FUZZTIME (default 10s) each
	scripts/fuzz.sh $(FUZZTIME)

backup: ## back the store up to DEST (a folder or s3://bucket/prefix; default .data/backups) and print the path
	@$(GO) run ./functions/sweeper backup $(or $(DEST),.data/backups)

restore: ## restore FROM (a file or s3://bucket/key); FORCE=1 overwrites existing keys, DRY_RUN=1 writes nothing
	@test -n "$(FROM)" || { echo "usage: make restore FROM=<file|s3://bucket/key> [FORCE=1] [DRY_RUN=1]"; exit 2; }
	@FORCE=$(FORCE) DRY_RUN=$(DRY_RUN) $(GO) run ./functions/sweeper restore $(FROM)

clean: ## remove build output
	rm -rf build scripts/upstash-sdk-check/node_modules
