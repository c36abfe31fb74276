# postvakt — the two commands a newcomer needs are `make run` and `make test`.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/uni-mail/postvakt/internal/app.Version=$(VERSION)
BIN     := bin/postvakt
# Extra arguments for `make run`, e.g. make run ARGS="--config postvakt.yaml".
ARGS    ?=

.PHONY: run demo screenshots build test check fmt vet bench fuzz e2e corpus attack loadtest clean deb deb-test

## run: start the service on the embedded default (SQLite under ./data, HTTP on 127.0.0.1:9780)
run: build
	./$(BIN) serve $(ARGS)

## demo: the demo — made-up data in ./data/demo.db, every page filled within a minute (docs/demo.md)
demo: build
	./$(BIN) serve --demo $(ARGS)

## screenshots: every page at desktop and phone width, from a demo server, into docs/screenshots (headless Chromium)
screenshots:
	POSTVAKT_SCREENSHOTS=$(CURDIR)/docs/screenshots $(GO) test -count=1 -run '^(TestDemo|TestFirstRunBrowser)$$' -timeout 10m ./internal/app/

## build: build the postvakt binary into bin/
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/postvakt

## test: every test, race detector on, in shuffled order (what CI runs)
test:
	$(GO) test -race -shuffle=on -count=1 -timeout 20m ./...

## e2e: the monitoring loop end to end: real Prometheus and Alertmanager, shipped rules, fake Slack
e2e:
	$(GO) test -tags e2e -count=1 -timeout 10m -run '^TestE2E' ./internal/app/

## attack: the hostile-load suite (docs/security.md), not part of `make test`: starts the
## built binary as `postvakt serve` with a site's configuration on loopback ports and runs
## each attack against it, printing per attack the server's peak RSS, CPU-seconds, /healthz
## and the outcome; exits 1 when one fails. ATTACK_ARGS="-list", "-only zip-bomb,trace-nul",
## "-no-engine" (leave out the SMTP engine's own limits)
ATTACK_ARGS ?=
attack: build
	$(GO) run ./internal/attack/cmd/postvakt-attack -bin $(BIN) $(ATTACK_ARGS)

## loadtest: the engine's resource budget under hostile load against a real `postvakt serve`
## (slow, not part of `make test`; figures in docs/resources.md)
loadtest:
	$(GO) test -tags loadtest -count=1 -v -timeout 30m ./engine/loadtest/

## check: gofmt, go vet and the tests
check: fmt vet test

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet ./...

## bench: the go test benchmarks (figures go to docs/performance.md)
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

## fuzz: run every fuzz target briefly (FUZZTIME per target, default 20s)
FUZZTIME ?= 20s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

## corpus: regenerate the log corpora with ground truth in collectors/corpus (Debian 12, as root; ~30 min)
corpus:
	sh collectors/corpus/gen/run.sh

## deb: the Debian package bin/postvakt_<version>_<arch>.deb (packaging/, docs/install.md),
## built with nfpm at the version pinned here, fetched through the Go module proxy
NFPM     ?= $(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.48.0
DEB_ARCH ?= $(shell $(GO) env GOARCH)
# Debian versions start with a digit: v1.2.3-4-gabc → 1.2.3-4-gabc, a bare commit → 0~gabc.
DEB_VERSION ?= $(shell (git describe --tags --always 2>/dev/null || echo dev) | sed -e 's/^v//' -e 's/^\([^0-9]\)/0~g\1/')
deb: build
	cd packaging && DEB_ARCH=$(DEB_ARCH) DEB_VERSION=$(DEB_VERSION) $(NFPM) package --packager deb --config nfpm.yaml --target ../bin/
	@ls -1 bin/*.deb

## deb-test: install the package on this machine and check it (root; Debian; changes the system)
deb-test: deb
	sh packaging/test-deb.sh bin/postvakt_$(DEB_VERSION)_$(DEB_ARCH).deb

clean:
	rm -rf bin
