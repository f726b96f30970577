# AI Rails state service. `make run` starts the local stack; `make test` runs
# every module's tests. See README.md.

SHELL       := bash
.SHELLFLAGS := -eu -o pipefail -c
GO          ?= go
GOARCH      ?= arm64
MODULES     := shared functions infra scripts/tools
STAGE       ?= prod
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
FUZZTIME    ?= 30s
N8N_DIR     ?= /tmp/n8n
VERSION     ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)

.PHONY: help run test test-race test-n8n cover bench bench-memory bench-wait bench-micro chaos build lint fuzz backup restore synth deploy sam-invoke clean

help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## start the local stack on http://127.0.0.1:3000 (embedded store unless REDIS_URL or UPSTASH_REDIS_REST_URL)
	$(GO) run ./functions/local

SDK_CHECK := scripts/upstash-sdk-check/node_modules/.package-lock.json

# The official Upstash SDK, which the REST server's tests run against it.
$(SDK_CHECK): scripts/upstash-sdk-check/package-lock.json
	npm ci --no-audit --no-fund --prefix scripts/upstash-sdk-check

# The standardwebhooks library, which the webhook tests verify deliveries with.
WEBHOOK_CHECK := scripts/webhook-check/node_modules/.package-lock.json
$(WEBHOOK_CHECK): scripts/webhook-check/package-lock.json
	npm ci --no-audit --no-fund --prefix scripts/webhook-check

# The official MCP SDK, whose client the local stack's tests run against /mcp.
MCP_CHECK := scripts/mcp-sdk-check/node_modules/.package-lock.json
$(MCP_CHECK): scripts/mcp-sdk-check/package-lock.json
	npm ci --no-audit --no-fund --prefix scripts/mcp-sdk-check

CDK_CLI := scripts/cdk-cli/node_modules/.package-lock.json
CDK     := ../scripts/cdk-cli/node_modules/.bin/cdk

# The aws-cdk CLI, pinned in scripts/cdk-cli/package.json (outside infra/,
# whose Go module would otherwise take the CLI's Go templates for packages).
$(CDK_CLI): scripts/cdk-cli/package-lock.json
	npm ci --no-audit --no-fund --prefix scripts/cdk-cli

test: $(SDK_CHECK) $(MCP_CHECK) $(WEBHOOK_CHECK) ## run every module's tests (CI=true turns a missing redis-server into a failure)
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 ./...); done

test-race: $(SDK_CHECK) $(MCP_CHECK) $(WEBHOOK_CHECK) ## the tests under the race detector
	@for m in $(MODULES); do echo "== $$m"; (cd $$m && $(GO) test -count=1 -race ./...); done

test-n8n: ## every example flow in events/n8n/ in a real n8n 1.123.81 (installed into N8N_DIR, default /tmp/n8n, if missing): about 3 minutes, plus about 3 to install
	scripts/n8n-e2e.sh $(N8N_DIR)

cover: ## statement coverage of every module's product code (scripts/cover.sh says what is left out, and why)
	scripts/cover.sh

bench: ## the load test: the API, the bare path, the REST server and Redis in their own processes; figures in BENCH_OUT (bench/results.json); BENCH_QUICK=1 for a 30 s run
	$(GO) run ./scripts/tools/loadtest

chaos: ## kill -9 Redis and inject REST faults under load; checks nothing acknowledged is lost (CHAOS_PHASE, CHAOS_KILLS, ...)
	$(GO) run ./scripts/tools/chaos

bench-memory: ## the failure memory: similar-failure accuracy, flaky precision and recall, cost per ingest, vector query latency; figures in bench/memory.json
	$(GO) run ./scripts/tools/memorybench

bench-wait: ## approval waits: REST requests and Redis commands per second of waiting, and decision-to-answer latency (about 4 minutes)
	cd shared && $(GO) test -run '^$$' -bench 'BenchmarkWaitCost|BenchmarkDecisionToAnswer' -benchtime 6x ./approval/

bench-micro: ## the go test benchmarks (BENCH selects, default all), with allocations
	cd shared && $(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchmem -benchtime 2s ./...
	cd functions && $(GO) test -run '^$$' -bench '$(or $(BENCH),.)' -benchmem -benchtime 3s ./localstack/

build: ## build/<function>/bootstrap and build/<function>.zip for linux/$(GOARCH)
	GOARCH=$(GOARCH) VERSION=$(VERSION) scripts/build.sh

lint: ## gofmt and go vet
	@out=$$(gofmt -l shared functions infra scripts/tools); if [[ -n "$$out" ]]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	@for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fuzz: ## run every fuzz target for FUZZTIME (default 30s) each
	scripts/fuzz.sh $(FUZZTIME)

backup: ## back the store up to DEST (a folder or s3://bucket/prefix; default .data/backups) and print the path
	@$(GO) run ./functions/sweeper backup $(or $(DEST),.data/backups)

restore: ## restore FROM (a file or s3://bucket/key); FORCE=1 overwrites existing keys, DRY_RUN=1 writes nothing
	@test -n "$(FROM)" || { echo "usage: make restore FROM=<file|s3://bucket/key> [FORCE=1] [DRY_RUN=1]"; exit 2; }
	@FORCE=$(FORCE) DRY_RUN=$(DRY_RUN) $(GO) run ./functions/sweeper restore $(FROM)

synth: build $(CDK_CLI) ## write infra/cdk.out/AiRailsState-$(STAGE).template.json (UPSTASH_URL=https://... for a real one)
	cd infra && $(CDK) synth --no-notices -q -c stage=$(STAGE) \
	  -c upstashUrl=$(or $(UPSTASH_URL),https://replace-me.upstash.io) $(CDK_ARGS) --output cdk.out
	@echo "wrote infra/cdk.out/AiRailsState-$(STAGE).template.json"

deploy: build $(CDK_CLI) ## deploy to AWS: UPSTASH_URL=https://... [STAGE=prod] [UPSTASH_TOKEN_SECRET_ARN=...] (see README)
	@test -n "$(UPSTASH_URL)" || { echo "usage: make deploy UPSTASH_URL=https://<db>.upstash.io [STAGE=prod] [UPSTASH_TOKEN_SECRET_ARN=arn] [WEBHOOK_SECRET_ARN=arn]"; exit 2; }
	cd infra && $(CDK) deploy --no-notices -c stage=$(STAGE) -c upstashUrl=$(UPSTASH_URL) \
	  $(if $(UPSTASH_TOKEN_SECRET_ARN),-c upstashTokenSecretArn=$(UPSTASH_TOKEN_SECRET_ARN)) \
	  $(if $(WEBHOOK_SECRET_ARN),-c webhookSecretArn=$(WEBHOOK_SECRET_ARN)) $(CDK_ARGS) AiRailsState-$(STAGE)

sam-invoke: ## sam local invoke FN=<workflow|approval|results|sweeper> EVENT=events/... against the synthesized template
	@test -n "$(FN)" -a -n "$(EVENT)" || { echo "usage: make sam-invoke FN=workflow EVENT=events/workflow/get.json [ENV_VARS=env.json]"; exit 2; }
	@test -f infra/cdk.out/AiRailsState-$(STAGE).template.json || $(MAKE) synth
	sam local invoke -t infra/cdk.out/AiRailsState-$(STAGE).template.json --docker-network host \
	  $(if $(ENV_VARS),--env-vars $(ENV_VARS)) -e $(EVENT) \
	  $$(jq -r --arg n ai-rails-$(STAGE)-$(FN) '.Resources | to_entries[] | select(.value.Properties.FunctionName == $$n) | .key' infra/cdk.out/AiRailsState-$(STAGE).template.json)

clean: ## remove build output
	rm -rf build scripts/upstash-sdk-check/node_modules scripts/mcp-sdk-check/node_modules scripts/webhook-check/node_modules scripts/cdk-cli/node_modules infra/cdk.out
