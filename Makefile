# The targets the README and CI use. `make test` installs what the tests need first.
GO ?= go

.PHONY: test check stand-ins demo bench

# Runs the whole test suite (with the race detector), as CI does.
test: stand-ins check
	$(GO) test -race -count=1 -timeout 20m ./...

# Formatting and vet: what every commit must keep green.
check:
	@unformatted="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$unformatted" ]; then echo "gofmt wants to rewrite: $$unformatted"; exit 1; fi
	$(GO) vet ./...

# Node stand-ins for cloud services (dynalite, Azurite, kinesalite) from the committed lock file.
stand-ins:
	bash tools/standins/install.sh

# eddy's main job on an embedded default: generated telemetry, windows, rules and patterns.
demo:
	$(GO) run ./examples/quickstart

# The standard workloads W1-W4 (events/s, allocations) on one core.
bench:
	$(GO) test ./examples/bench -run '^$$' -bench . -benchtime 3x -cpu 1
