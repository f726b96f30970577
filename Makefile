# AI Rails state service. `make run` starts the local stack; `make test` runs
# every module's tests. See README.md.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
GO          ?= go
GOARCH      ?= arm64
MODULES     := shared functions
FUZZTIME    ?= 10s
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help run test test-race cover build lint fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## start the local stack on http://127.0.0.1:3000 (embedded store unless REDIS_URL or UPSTASH_REDIS_REST_URL)
	$(GO) run ./functions/local

test: ## run every module's tests (CI=true turns a missing redis-server into a failure)
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 ./...); done

test-race: ## the tests under the race detector
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 -race ./...); done

cover: ## statement coverage of shared/, from its tests
	@mkdir -p build
	cd shared && $(GO) test -count=1 -coverprofile=../build/cover.out ./... >/dev/null
	$(GO) tool cover -func=build/cover.out | tail -1

build: ## build/<function>/bootstrap and build/<function>.zip for linux/$(GOARCH)
	GOARCH=$(GOARCH) VERSION=$(VERSION) scripts/build.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l shared functions); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fuzz: ## run every fuzz target for FUZZTIME (default 10s) each
	scripts/fuzz.sh $(FUZZTIME)

clean: ## remove build output
	rm -rf build
