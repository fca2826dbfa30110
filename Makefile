# arrears: the ledger of what large buyers owe small suppliers.
#
#   make run             serve on the embedded SQLite store in ./data
#   make test            every test (PostgreSQL tests start a throwaway cluster)
#   make generate        regenerate gen/ from proto/ with pinned local plugins
#   make generate-check  fail if gen/ is stale or has uncommitted files
#   make lint            buf lint, buf breaking, gofmt, go vet
#   make build           bin/arrearsd and bin/arrearsctl
#   make bench-sync      the bulk sync benchmark (BENCH_N=1000000 invoices)
#   make bench-sync-sqlite  the same sync passes on the embedded SQLite store
#   make bench-summary   the overdue summary from aggregates against a scan (BENCH_N invoices)

SHELL := /bin/bash
BIN   := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)
export GOBIN := $(BIN)

# Code generators, pinned. `make tools` installs them into ./bin from the Go
# module proxy; a stamp file per version reinstalls when a pin changes.
BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.0
GRPC_GATEWAY_VERSION       := v2.33.0

TOOL_STAMPS := $(BIN)/.buf-$(BUF_VERSION) \
	$(BIN)/.protoc-gen-go-$(PROTOC_GEN_GO_VERSION) \
	$(BIN)/.protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION) \
	$(BIN)/.grpc-gateway-$(GRPC_GATEWAY_VERSION)

TEST_FLAGS ?= -count=1 -timeout 10m

.PHONY: run build test test-race generate generate-check lint breaking tools clean bench-sync bench-sync-sqlite bench-summary

# Benchmarks are not part of `make test`. BENCH_N sets their size.
BENCH_N ?= 1000000

# The sync benchmark: raw COPY against sync of new, unchanged and 10%-changed
# invoices through a separate arrearsd, on a throwaway PostgreSQL cluster.
bench-sync: build
	go run ./cmd/arrears-bench sync -n $(BENCH_N) -arrearsd $(BIN)/arrearsd

# The same sync passes against arrearsd on its embedded SQLite store (no raw
# baseline: SQLite has no COPY), reported in invoices per second.
bench-sync-sqlite: build
	go run ./cmd/arrears-bench sync -store sqlite -n $(BENCH_N) -arrearsd $(BIN)/arrearsd

# The overdue summary benchmark: N invoices of 10,000 debtors in 300 regions
# and 100,000 creditors, loaded through the sync API into a throwaway
# PostgreSQL cluster; the summary by region read through arrearsd against
# the SQL that scans every invoice and payment, totals compared.
bench-summary: build
	go run ./cmd/arrears-bench summary -n $(BENCH_N) -arrearsd $(BIN)/arrearsd $(BENCH_FLAGS)

run:
	go run ./cmd/arrearsd

build:
	go build -o $(BIN)/arrearsd ./cmd/arrearsd
	go build -o $(BIN)/arrearsctl ./cmd/arrearsctl

test:
	go test $(TEST_FLAGS) ./...

test-race:
	go test -race $(TEST_FLAGS) ./...

tools: $(TOOL_STAMPS)

$(BIN)/.buf-$(BUF_VERSION):
	go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
	@touch $@
$(BIN)/.protoc-gen-go-$(PROTOC_GEN_GO_VERSION):
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
	@touch $@
$(BIN)/.protoc-gen-go-grpc-$(PROTOC_GEN_GO_GRPC_VERSION):
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
	@touch $@
$(BIN)/.grpc-gateway-$(GRPC_GATEWAY_VERSION):
	go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION) \
		github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
	@touch $@

# Generated files (by their suffixes) are removed first so that a deleted
# .proto of any package leaves nothing behind; hand-written files such as
# gen/openapi/openapi.go stay.
generate: tools
	buf lint
	find gen -type f \( -name '*.pb.go' -o -name '*.pb.gw.go' -o -name '*.swagger.json' \) -delete
	find gen -mindepth 1 -type d -empty -delete
	buf generate

generate-check: generate
	@git add -N gen
	@git diff --exit-code --stat -- gen || { echo "gen/ is stale: run 'make generate' and commit the result"; exit 1; }
	@test -z "$$(git ls-files --others --exclude-standard gen)" || { echo "gen/ has uncommitted files"; exit 1; }

# buf breaking compares the API with the previous commit (or, with
# uncommitted proto changes, with HEAD), so no change breaks a client unseen.
breaking: tools
	@if ! git diff --quiet HEAD -- proto 2>/dev/null; then \
		buf breaking --against '.git#ref=HEAD'; \
	elif git rev-parse -q --verify HEAD~1 >/dev/null && git cat-file -e HEAD~1:buf.yaml 2>/dev/null; then \
		buf breaking --against ".git#ref=$$(git rev-parse HEAD~1)"; \
	else echo "buf breaking: no earlier API to compare with"; fi

lint: tools breaking
	buf lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'))" || { gofmt -l $$(git ls-files '*.go' | grep -v '^gen/'); echo "gofmt needed"; exit 1; }
	go vet ./...

clean:
	rm -rf $(BIN)
