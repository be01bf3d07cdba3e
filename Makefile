# Waybill's tasks. `make run` and `make test` are the two a newcomer needs.

GO                  ?= go
BIN                 := $(CURDIR)/bin
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT       := $(BIN)/golangci-lint-$(GOLANGCI_LINT_VERSION)
WAYBILL             := $(BIN)/waybill
SCHEMAS             ?= schemas

.DEFAULT_GOAL := help

.PHONY: help run dev check demo build test generate bench bench-registry bench-restart lint fmt vet golangci-lint importcheck check-generated clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

# The main job: the embedded stack (`waybill dev`). Kafka (kfake) on
# 127.0.0.1:9092, the registry and its UI on 127.0.0.1:8081, the catalog's
# topics and their .dlq, schemas/ pushed, the five logistics services on
# 127.0.0.1:8090-8094; state in .waybill/. Ctrl-C stops it; running it again
# resumes. The built binary runs it (not `go run`), so Ctrl-C exits 0.
run: build ## run the embedded stack: Kafka, the registry + UI, the services (until Ctrl-C)
	$(WAYBILL) dev --schemas $(SCHEMAS)

dev: run ## the same as make run

# The schema check a pull request gets: lint every schema, then check every
# version against the versions before it at its catalog level.
check: build ## lint and compatibility-check schemas/ and print the report
	@echo '$$ waybill lint --schemas $(SCHEMAS)'; \
	$(WAYBILL) lint --schemas $(SCHEMAS); lint=$$?; \
	echo; echo '$$ waybill compat check --schemas $(SCHEMAS)'; \
	$(WAYBILL) compat check --schemas $(SCHEMAS); check=$$?; \
	[ $$lint -eq 0 ] && [ $$check -eq 0 ]

# The same stack, driven by a scripted flow (orders placed, one short of stock,
# one delayed, one cancelled) and a throughput run, then stopped; its state goes
# to a temporary directory (see `waybill dev --help`).
demo: ## run the embedded stack's scripted demo (waybill dev --demo) and exit
	$(GO) run ./cmd/waybill dev --demo --schemas $(SCHEMAS)

build: ## build bin/waybill
	$(GO) build -o $(WAYBILL) ./cmd/waybill

test: check-generated ## run every test with the race detector (after checking pkg/events is generated)
	$(GO) test -race -count=1 ./...

# The typed event packages under pkg/events, from schemas/ (package codegen).
generate: ## regenerate generated code (pkg/events)
	$(GO) run ./cmd/waybill gen --schemas $(SCHEMAS) --out pkg/events

# CI: fail when `make generate` leaves a diff in the generated code.
check-generated: generate
	@out=$$(git status --porcelain -- pkg/events); \
	if [ -n "$$out" ]; then echo "generated code is stale or uncommitted (make generate changed these; commit them):"; echo "$$out"; exit 1; fi

bench: ## run the benchmarks (compat, generated codecs, envelope, serde, Kafka runtime, the registry and its UI)
	$(GO) test -run '^$$' -bench . -skip KafkaRestart10k -benchmem ./compat/... ./pkg/events/... ./pkg/envelope/... ./pkg/serde/... ./pkg/kafka/... ./services/registry/...

bench-restart: ## register 10,000 schemas on Kafka storage, time a registry restart (a few minutes)
	$(GO) test -run '^$$' -bench KafkaRestart10k -benchtime 3x -timeout 30m ./services/registry/

bench-registry: ## GET /schemas/ids/{id} over loopback vs a bare net/http handler (needs wrk)
	scripts/bench-registry.sh

lint: fmt vet golangci-lint importcheck ## gofmt, go vet, golangci-lint and the import-order check

fmt:
	@out=$$(gofmt -l $$(git ls-files --cached --others --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt: these files need formatting (gofmt -w):"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

golangci-lint: $(GOLANGCI_LINT)
	$(GOLANGCI_LINT) run ./...

importcheck:
	$(GO) run ./internal/importcheck

# The one network access of `make lint`: golangci-lint, built at a pinned
# version into bin/ (the version is in the file name, so a bump rebuilds it).
$(GOLANGCI_LINT):
	@mkdir -p $(BIN)
	GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(BIN)/golangci-lint $@

clean: ## remove bin/
	rm -rf $(BIN)
