# sluice: `make run` serves on the embedded default config; `make test` installs what the
# tests need and runs them all.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT    ?= $(shell git rev-parse HEAD 2>/dev/null)
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# grpcnotrace keeps gRPC's trace package (and with it text/template, whose method lookup by
# name turns off the linker's dead-code elimination) out of the binary.
BUILD_TAGS ?= grpcnotrace
RELEASE_PLATFORMS := linux/amd64 linux/arm64 darwin/amd64 darwin/arm64
IMAGE_ARCH ?= $(shell $(GO) env GOARCH)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
TRANSLATORS := anthropic gemini bedrock
WASM_DIR  := host/builtin/wasm
NODE_DIR  := internal/e2e/node
AGENTS_DIR := internal/e2e/agents
TEST_TIMEOUT ?= 20m

.PHONY: all build plugins run test test-deps check bench clean fuzz release image manifests lean-check prices

all: build

# The first-party translators, embedded into the binary as one module (plugins/translators:
# one Go runtime for the three, loaded once per translator with its name as config), stored
# gzipped: ~4 MB of wasm compresses to ~1.1 MB, where three modules took ~2.9 MB.
plugins: $(WASM_DIR)/translators.wasm.gz

$(WASM_DIR)/translators.wasm.gz: $(shell find plugins sdk -name '*.go' 2>/dev/null)
	rm -f $(WASM_DIR)/anthropic.wasm.gz $(WASM_DIR)/bedrock.wasm.gz $(WASM_DIR)/gemini.wasm.gz
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -trimpath -ldflags='-s -w' -o $(WASM_DIR)/translators.wasm ./plugins/translators/wasm
	gzip -9 -n -f $(WASM_DIR)/translators.wasm

build: plugins
	$(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o bin/sluice ./cmd/sluice

run: build
	bin/sluice serve

# What the tests need that Go does not fetch: redis-server for multi-replica tests, chromium
# for the dashboard test, the official Node SDKs for end-to-end tests, the AssemblyScript
# compiler of the AssemblyScript SDK (sdk/as, pinned), and the coding agents
# (Codex CLI, Claude Code) with the Node 22 they run on, kept in their own folder and used by
# path so the system node stays as it is.
test-deps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	cd sdk/as && npm ci --no-audit --no-fund --loglevel=error
	cd $(AGENTS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	@# podman (with runc, for hosts where crun cannot run) lets the image test start the image;
	@# without it that one test is skipped.
	@command -v podman >/dev/null && command -v runc >/dev/null || { \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq podman runc >/dev/null || echo "podman not installed: the image run test will be skipped"; }

test: test-deps build
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd sdk && $(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) ./...
	cd deploy && $(GO) test -count=1 -timeout $(TEST_TIMEOUT) ./...

check:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=wasip1 GOARCH=wasm $(GO) vet $(TRANSLATORS:%=./plugins/%/...) ./plugins/translators/...
	$(GO) run $(STATICCHECK) ./...
	@# The SDK is its own module (standard library only): vet it natively and as a guest.
	cd sdk && $(GO) vet ./... && GOOS=wasip1 GOARCH=wasm $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	cd deploy && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...
	@for d in . sdk deploy; do \
		(cd $$d && touch go.sum && cp go.mod /tmp/sluice-go.mod.$$$$ && cp go.sum /tmp/sluice-go.sum.$$$$ && $(GO) mod tidy && touch go.sum && \
		if ! cmp -s go.mod /tmp/sluice-go.mod.$$$$ || ! cmp -s go.sum /tmp/sluice-go.sum.$$$$; then \
			echo "go mod tidy changes $$d/go.mod or go.sum: run it and commit"; \
			cp /tmp/sluice-go.mod.$$$$ go.mod; cp /tmp/sluice-go.sum.$$$$ go.sum; rm -f /tmp/sluice-go.*.$$$$; [ -s go.sum ] || rm -f go.sum; exit 1; fi; \
		rm -f /tmp/sluice-go.*.$$$$; [ -s go.sum ] || rm -f go.sum) || exit 1; \
	done

# Short fuzzing passes over the parsers.
fuzz:
	$(GO) test -run x -fuzz FuzzParseRequest -fuzztime 20s ./host/openai
	$(GO) test -run x -fuzz FuzzReader -fuzztime 20s ./host/sse
	$(GO) test -run x -fuzz FuzzParse -fuzztime 20s ./host/config
	$(GO) test -run x -fuzz FuzzBedrockEvents -fuzztime 20s ./host/provider
	cd sdk && $(GO) test -run x -fuzz FuzzTypedViews -fuzztime 20s .

# prices regenerates the embedded price snapshot from the @pydantic/genai-prices version pinned
# in host/pricing/gen/package.json (bump it there), then checks it against the published prices.
prices:
	cd host/pricing/gen && npm ci --no-audit --no-fund && node snapshot.mjs > ../genai-prices.json
	$(GO) test -count=1 ./host/pricing/

# The floor suite (bare / default / full, each pinned to one core) first, then the scenarios
# with 5 s runs, then the micro-benchmarks; about 10 minutes in all on 2 cores (add full-trace1-sdk
# to -floor for the OTel SDK's tracing cost in the same run).
bench: build
	$(GO) build -o bin/fakeupstream ./cmd/fakeupstream
	$(GO) build -o bin/bareproxy ./cmd/bareproxy
	$(GO) build -o bin/sluicebench ./cmd/sluicebench
	bin/sluicebench -sluice bin/sluice -upstream bin/fakeupstream -bareproxy bin/bareproxy -floor bare,default,default-nolog,full,full-trace0,full-trace1 -duration 5s -json bin/bench.json -markdown bin/bench.md
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2000x ./host/openai ./host/sse ./host/balance ./host/ratelimit ./host/cache ./host/telemetry ./host/redisclient ./host/responsesapi ./host/messagesapi ./host/gateway
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 100x ./host/plugin
	$(GO) test -run '^$$' -bench Wasm -benchtime 2000x ./plugins/internal/wasmbench

# Static binaries for every release platform, with their checksums, in dist/.
release: plugins
	rm -rf dist && mkdir -p dist
	@for p in $(RELEASE_PLATFORMS); do \
		os=$${p%/*}; arch=$${p#*/}; out=dist/sluice-$(VERSION)-$$os-$$arch; \
		echo "build $$out"; \
		CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch $(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o $$out ./cmd/sluice || exit 1; \
	done
	cd dist && sha256sum sluice-* > SHA256SUMS && cat SHA256SUMS

# The container image, built without a container engine: bin/sluice-image.tar (docker-archive,
# for `docker load` / `podman load`) and bin/sluice-oci (an OCI image layout).
image: plugins
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) $(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags '$(LDFLAGS)' -o bin/linux-$(IMAGE_ARCH)/sluice ./cmd/sluice
	rm -rf bin/sluice-oci
	cd deploy && $(GO) run ./cmd/mkimage -binary ../bin/linux-$(IMAGE_ARCH)/sluice -arch $(IMAGE_ARCH) \
		-version $(VERSION) -revision '$(COMMIT)' -tag 'sluice:$(VERSION),sluice:latest' -out ../bin/sluice-image.tar -oci ../bin/sluice-oci

# Plain Kubernetes manifests rendered from the Helm chart (deploy/manifests).
manifests:
	cd deploy && $(GO) run ./cmd/manifests

# Fails when something in the binary turns off the linker's dead-code elimination (a caller
# of reflect's method lookup by a run-time name, which the linker marks <ReflectMethod>).
lean-check:
	@mkdir -p bin
	@CGO_ENABLED=0 $(GO) build -trimpath -tags '$(BUILD_TAGS)' -ldflags=-dumpdep -o bin/sluice.dumpdep ./cmd/sluice 2> bin/dumpdep.txt
	@rm -f bin/sluice.dumpdep
	@if grep -q '<ReflectMethod>.* -> ' bin/dumpdep.txt; then \
		echo "dead-code elimination is off; reflect method lookup reached from:"; \
		grep -o '^[^ ]* <ReflectMethod>' bin/dumpdep.txt | sort -u; exit 1; \
	else echo "lean-check: dead-code elimination is on"; fi

clean:
	rm -rf bin dist $(WASM_DIR)/*.wasm $(WASM_DIR)/*.wasm.gz
