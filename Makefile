# The targets the README and CI use. `make test` installs what the tests need first.
GO ?= go

.PHONY: test check lint stand-ins demo bench bench-replay install

# staticcheck's version is pinned so that CI and every developer see the same findings.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK ?= $(shell $(GO) env GOPATH)/bin/staticcheck

# The eddy CLI as users install it. disable_grpc_modules is cloud.google.com/go/storage's own switch:
# it leaves out the gRPC DirectPath modules (xDS, Envoy's APIs, the RLS balancer) that only a gRPC
# client on Google's network uses; eddy reads and writes GCS over the JSON API (gs://BUCKET?grpc=true
# still works, without DirectPath). Those packages' init functions made 8-13 MB of replay's memory.
# CGO_ENABLED=0: eddy needs no C (net and os/user have Go versions), and a static binary does not
# map libc and the dynamic loader (1-1.5 MB of every eddy process).
EDDY_TAGS ?= disable_grpc_modules
install:
	CGO_ENABLED=0 $(GO) install -tags $(EDDY_TAGS) ./cmd/eddy

# Runs the whole test suite (with the race detector), as CI does.
test: stand-ins check
	$(GO) test -race -count=1 -timeout 20m ./...

# Formatting, vet and staticcheck: what every commit must keep green.
check: lint
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt wants to rewrite: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# staticcheck, installed at the pinned version when missing.
lint:
	@if ! "$(STATICCHECK)" -version 2>/dev/null | grep -q "($(STATICCHECK_VERSION:v%=%))"; then \
		echo "installing staticcheck $(STATICCHECK_VERSION)"; \
		$(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); fi
	"$(STATICCHECK)" ./...

# Node stand-ins for cloud services (dynalite, Azurite, kinesalite) from the committed lock file.
stand-ins:
	bash tools/standins/install.sh

# eddy's main job on an embedded default: generated telemetry, windows, rules and patterns.
demo:
	$(GO) run ./examples/quickstart

# The standard workloads W1-W4 (events/s, allocations) on one core.
bench:
	$(GO) test ./examples/bench -run '^$$' -bench . -benchtime 3x -cpu 1

# eddy replay's targets (issue 21): events/s and CPU per event for 1, 2 and 4 workers on W1-W4, the
# blob stand-ins against a local file, and the peak resident memory over 2 k, 200 k and 2 M events.
bench-replay: stand-ins
	$(GO) test ./cmd/eddy -run '^$$' -bench 'ReplayW1Workers|ReplayWorkloads|ReplayArchive' -benchtime 3x
	$(GO) test ./cmd/eddy -run '^$$' -bench ReplayCores -benchtime 1x
	$(GO) test ./cmd/eddy -run TestReplayPeakMemory -count=1 -v
