# bookingd — the two commands of the README, and a few for developers.
#   make run     install what is missing, build, start on ./var/bookingd.db with demo data
#   make check   install what is missing, build with sanitizers, run every test
#   make check-dates  the date-dependent tests under libfaketime at CHECK_DATES_AT
#   make fuzz    every fuzz target for FUZZ_SECONDS (600) each, with a report
#   make install build, then install under PREFIX (/usr/local) in DESTDIR:
#                the binary, the systemd unit, the example environment
#                file and the documentation
.POSIX:
.PHONY: all run check check-dates build build-check fuzz-build fuzz-check fuzz deps deps-test bench format clean install install-files

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE_DIR := build/release
CHECK_DIR := build/check
FUZZ_DIR := build/fuzz

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
DOCDIR ?= $(PREFIX)/share/doc/bookingd
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
BIN ?= $(RELEASE_DIR)/bookingd

all: build

deps:
	@scripts/install-deps.sh build

deps-test:
	@scripts/install-deps.sh test

build: deps
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) --target bookingd -- --no-print-directory

run: build
	@scripts/run-demo.sh $(RELEASE_DIR)/bookingd

build-check: deps-test
	@cmake -S . -B $(CHECK_DIR) -DCMAKE_BUILD_TYPE=Debug -DBK_SANITIZE=ON -DBK_TESTS=ON -DBK_WERROR=ON >/dev/null
	@cmake --build $(CHECK_DIR) -j $(JOBS) -- --no-print-directory

check: build-check
	@cd $(CHECK_DIR) && ctest --output-on-failure --timeout 1500 -j $(JOBS)
	@$(MAKE) --no-print-directory fuzz-check

# The tests that depend on the date or the time of day, under libfaketime
# from an adverse moment (CHECK_DATES_AT, UTC, "YYYY-MM-DD hh:mm:ss"; the
# clock runs on from there in every process: ctest, pytest, node, the
# daemon, Chromium): unit, golden and browser tests and the integration
# files that book, bill, remind or sync calendars, on SQLite, without
# sanitizers (their runtime wants to come first in LD_PRELOAD). Not part
# of make check; bounded to DATES_LIMIT seconds (about 10 minutes idle).
CHECK_DATES_AT ?= 2026-12-31 22:40:00
DATES_LIMIT ?= 2400
DATES_DIR := build/dates
DATES_TESTS := ^(test_.*|golden_.*|e2e_.*|integration_(slots|bookings|attendance|payments|packages|invoice_pdf|calendars|calendar_reconcile|clock|client_lifecycle|client_figures|first_data|cli|openapi|questions|mail|calcom_api|webhooks_calcom|hosts_event_types))$$
check-dates: deps-test
	@cmake -S . -B $(DATES_DIR) -DCMAKE_BUILD_TYPE=Debug -DBK_TESTS=ON >/dev/null
	@cmake --build $(DATES_DIR) -j $(JOBS) -- --no-print-directory
	@echo "check-dates: from $(CHECK_DATES_AT) UTC"
	@cd $(DATES_DIR) && FAKETIME_DONT_RESET=1 timeout $(DATES_LIMIT) \
	    faketime -f "@$(CHECK_DATES_AT)" ctest --output-on-failure \
	    --timeout 600 -j $(JOBS) -R '$(DATES_TESTS)' -E pg

# The libFuzzer targets, built with clang in a tree of their own.
fuzz-build: deps-test
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DBK_FUZZ=ON -DBK_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_all -- --no-print-directory

# make check: each target for a bounded number of inputs.
fuzz-check: fuzz-build
	@cd $(FUZZ_DIR) && ctest --output-on-failure -j $(JOBS)

# The long campaign: each target for FUZZ_SECONDS (ten minutes by default)
# on a corpus kept in build/fuzz/corpus/<target>; prints the executions.
FUZZ_SECONDS ?= 600
fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz-run.sh $(FUZZ_DIR)

bench: deps
	@scripts/install-deps.sh bench
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) -- --no-print-directory
	@$(RELEASE_DIR)/bench/bench_availability
	@$(RELEASE_DIR)/bench/bench_busy
	@DRAIN=$${DRAIN:-30} bench/ingest/run.sh --database both $(RELEASE_DIR)/bookingd
	@bench/claim/run.sh --database both $(RELEASE_DIR)/bookingd
	@bench/slots/run.sh $(RELEASE_DIR)/bookingd
	@/usr/bin/python3 bench/payments/run.py $(RELEASE_DIR)/bookingd
	@bench/compare/run.sh $(RELEASE_DIR)/bookingd
	@bench/outbox/run.sh --database both $(RELEASE_DIR)/bookingd

install: build
	@$(MAKE) --no-print-directory install-files

# What install copies, from an already built BIN (tests pass their own).
install-files:
	@test -x "$(BIN)" || { echo "make install: no $(BIN): run make build" >&2; exit 1; }
	install -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(SYSTEMDUNITDIR)" "$(DESTDIR)$(DOCDIR)/docs"
	install -m 755 "$(BIN)" "$(DESTDIR)$(BINDIR)/bookingd"
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
	    packaging/bookingd.service.in > "$(DESTDIR)$(SYSTEMDUNITDIR)/bookingd.service"
	chmod 644 "$(DESTDIR)$(SYSTEMDUNITDIR)/bookingd.service"
	install -m 644 packaging/bookingd.env.example README.md "$(DESTDIR)$(DOCDIR)/"
	install -m 644 docs/*.md docs/openapi.json "$(DESTDIR)$(DOCDIR)/docs/"

format:
	@find src tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf build
