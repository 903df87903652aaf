# egsd — fiscal device agent. `make run` starts a demo unit; `make test` runs every test.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X github.com/egsd/egsd/cmd/egsd/cli.Version=$(VERSION)
DEMO_DATA ?= demo-data
# Where the demo's API listens: make run LISTEN=127.0.0.1:7071
LISTEN    ?= 127.0.0.1:7070
SHARED    ?= $(abspath ../shared)

.PHONY: build run test test-race bench lint conformance fuzz crash package nfpm weed dist clean ui-screenshot growth

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/egsd ./cmd/egsd

# A fresh demo unit: the ZATCA simulator, a virtual printer, a demo seller
# and demo users (credentials are printed), on LISTEN.
run: build
	rm -rf $(DEMO_DATA)
	./bin/egsd run --demo --data $(DEMO_DATA) --listen $(LISTEN)

test: lint
	$(GO) test -count=1 -timeout 30m ./...
	$(GO) test -count=1 -race -short ./queue/... ./agent/... ./device/...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./queue/... ./stamping/... ./device/...
	$(GO) test -run '^$$' -bench SaleToPrinted -benchtime 5x ./cmd/egsd/

# The store's growth: GROWTH_DOCS documents shaped like real ZATCA ones,
# with their answers; file size, and issue latency against the empty store.
# A measurement, not a test: about 40 minutes and 6 GB of disk for a
# million, so neither make test nor CI runs it.
GROWTH_DOCS ?= 1000000
growth:
	$(GO) test -run '^$$' -bench Growth -benchtime 1x -timeout 3h ./cmd/egsd/ -args -growth.docs=$(GROWTH_DOCS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Checks against ../shared (authority specs, rule sets, sample documents).
# CONFORMANCE_PKGS lists the packages that have TestConformance* tests.
CONFORMANCE_PKGS := ./stamping/testregime/ ./stamping/zatca/ ./stamping/keystore/ ./stamping/tlv/ ./cmd/egsd/
conformance:
	EGSD_SHARED=$(SHARED) $(GO) test -count=1 -v -run '^TestConformance' $(CONFORMANCE_PKGS)

# Run each fuzz target for FUZZTIME (default 30s). Targets seeded with whole
# invoices minimise new inputs only briefly: minimising a 15 KB input for the
# default minute stalls the run at 0 executions a second.
FUZZTIME ?= 30s
FUZZDOC  := -fuzzminimizetime 10x
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./stamping/sale/
	$(GO) test -run '^$$' -fuzz FuzzTotals -fuzztime $(FUZZTIME) ./stamping/sale/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./stamping/strictjson/
	$(GO) test -run '^$$' -fuzz FuzzScanAgreesWithWalker -fuzztime $(FUZZTIME) ./stamping/strictjson/
	$(GO) test -run '^$$' -fuzz FuzzPrintable -fuzztime $(FUZZTIME) ./stamping/textpolicy/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./stamping/money/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./stamping/cert/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./stamping/keystore/
	$(GO) test -run '^$$' -fuzz FuzzParseCSR -fuzztime $(FUZZTIME) ./stamping/csr/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./stamping/tlv/
	$(GO) test -run '^$$' -fuzz FuzzCanonicalize -fuzztime $(FUZZTIME) ./stamping/zatca/
	$(GO) test -run '^$$' -fuzz FuzzInvoiceHashInput -fuzztime $(FUZZTIME) ./stamping/zatca/
	$(GO) test -run '^$$' -fuzz FuzzParseInvoiceAnswer -fuzztime $(FUZZTIME) ./stamping/zatca/
	$(GO) test -run '^$$' -fuzz FuzzDecodeSignature -fuzztime $(FUZZTIME) ./stamping/etims/
	$(GO) test -run '^$$' -fuzz FuzzReadFrame -fuzztime $(FUZZTIME) ./stamping/kz/
	$(GO) test -run '^$$' -fuzz FuzzUnmarshalRequest -fuzztime $(FUZZTIME) ./stamping/kz/
	$(GO) test -run '^$$' -fuzz FuzzUnmarshalResponse -fuzztime $(FUZZTIME) ./stamping/kz/
	$(GO) test -run '^$$' -fuzz FuzzPlainReadingMatchesXML -fuzztime $(FUZZTIME) $(FUZZDOC) ./stamping/zatca/
	$(GO) test -run '^$$' -fuzz FuzzReadInvoiceBody -fuzztime $(FUZZTIME) $(FUZZDOC) ./sim/zatca/
	$(GO) test -run '^$$' -fuzz FuzzVerifyMatchesReference -fuzztime $(FUZZTIME) $(FUZZDOC) ./sim/zatca/
	$(GO) test -run '^$$' -fuzz FuzzInterpret -fuzztime $(FUZZTIME) ./device/fakeprinter/

# The crash test with more kills than CI runs.
KILLS ?= 500
crash:
	$(GO) test -count=1 -timeout 60m -run TestCrashRecovery -v ./cmd/egsd/ -crash.kills=$(KILLS)

# docs/ui-status-page.png: the status page during an outage, from the
# browser test (needs chromium).
ui-screenshot:
	$(GO) test -count=1 -run '^TestStatusPage$$' ./cmd/egsd/ -args -ui.screenshot=$(abspath docs/ui-status-page.png)

# The .deb and .rpm for this machine's architecture, into PKGDIR: the
# binary, the systemd unit, /etc/egsd/config.toml (kept on upgrade) and the
# maintainer scripts. nfpm is installed into bin/tools on first use.
PKGDIR       ?= dist
NFPM_VERSION := v2.45.2
NFPM         ?= $(abspath bin/tools)/nfpm-$(NFPM_VERSION)
# Debian and rpm versions start with a digit and have no "-": v1.2.0-3-gabc
# becomes 1.2.0+3+gabc, a bare commit abc1234 becomes 0+abc1234.
PKG_VERSION  := $(shell echo '$(VERSION)' | sed -e 's/^v//' -e 's/-/+/g' -e '/^[0-9]/!s/^/0+/')
package: build $(NFPM)
	$(GO) run ./packaging/unitgen bin/egsd.service
	mkdir -p $(PKGDIR)
	set -e; for format in deb rpm; do \
	  GOARCH=$$($(GO) env GOARCH) EGSD_VERSION=$(PKG_VERSION) $(NFPM) package -f packaging/nfpm.yaml -p $$format -t $(PKGDIR)/; \
	done

# The pinned nfpm (newer releases do not build here).
nfpm: $(NFPM)
$(abspath bin/tools)/nfpm-$(NFPM_VERSION):
	rm -rf $(@D)/nfpm-install
	GOBIN=$(@D)/nfpm-install $(GO) install github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION)
	mv $(@D)/nfpm-install/nfpm $@
	rmdir $(@D)/nfpm-install

# The S3-compatible server that the archive's acceptance test starts
# (SeaweedFS, Apache-2.0): a separate binary in bin/tools, used only by that
# test and never linked into egsd. Its module has replace directives, which
# `go install pkg@version` refuses, so it is built inside its downloaded
# module. The first build takes minutes; later ones find it in place.
SEAWEEDFS_VERSION := v0.0.0-20261109003541-7506e5f91cd6
WEED              ?= $(abspath bin/tools)/weed-$(SEAWEEDFS_VERSION)
weed: $(WEED)
$(abspath bin/tools)/weed-$(SEAWEEDFS_VERSION):
	mkdir -p $(@D)
	set -e; dir=$$(cd / && $(GO) mod download -json github.com/seaweedfs/seaweedfs@$(SEAWEEDFS_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	  test -n "$$dir"; cd "$$dir" && $(GO) build -trimpath -o $@.tmp ./weed
	mv $@.tmp $@

# Static, stripped binaries for the tills' platforms, named
# egsd-VERSION-OS-ARCH[.exe], with SHA256SUMS over them: make dist DIST=DIR.
DIST         ?= dist
DIST_TARGETS := linux/amd64 linux/arm64 linux/arm windows/amd64
dist:
	mkdir -p $(DIST)
	rm -f $(DIST)/egsd-*-linux-* $(DIST)/egsd-*-windows-*.exe $(DIST)/SHA256SUMS
	set -e; for target in $(DIST_TARGETS); do \
	  os=$${target%/*}; arch=$${target#*/}; ext=; [ $$os = windows ] && ext=.exe; \
	  CGO_ENABLED=0 GOOS=$$os GOARCH=$$arch GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' \
	    -o $(DIST)/egsd-$(VERSION)-$$os-$$arch$$ext ./cmd/egsd; \
	done
	cd $(DIST) && sha256sum egsd-$(VERSION)-* > SHA256SUMS

clean:
	rm -rf bin dist $(DEMO_DATA)
