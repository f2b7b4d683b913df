# bookingd — the two commands of the README, and a few for developers.
#   make run     install what is missing, build, start on ./var/bookingd.db with demo data
#   make check   install what is missing, build with sanitizers, run every test
.POSIX:
.PHONY: all run check build build-check fuzz-check deps deps-test bench format clean

JOBS ?= $(shell nproc 2>/dev/null || echo 2)
RELEASE_DIR := build/release
CHECK_DIR := build/check
FUZZ_DIR := build/fuzz

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

# The libFuzzer targets, built with clang in a tree of their own, each run
# for a bounded number of inputs.
fuzz-check: deps-test
	@cmake -S . -B $(FUZZ_DIR) -DCMAKE_C_COMPILER=clang -DBK_FUZZ=ON -DBK_WERROR=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_all -- --no-print-directory
	@cd $(FUZZ_DIR) && ctest --output-on-failure -j $(JOBS)

bench: deps
	@scripts/install-deps.sh bench
	@cmake -S . -B $(RELEASE_DIR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBK_TESTS=OFF >/dev/null
	@cmake --build $(RELEASE_DIR) -j $(JOBS) -- --no-print-directory
	@$(RELEASE_DIR)/bench/bench_availability
	@$(RELEASE_DIR)/bench/bench_busy
	@DRAIN=$${DRAIN:-30} bench/ingest/run.sh --database both $(RELEASE_DIR)/bookingd
	@bench/claim/run.sh --database both $(RELEASE_DIR)/bookingd

format:
	@find src tests bench -name '*.[ch]' | xargs clang-format -i

clean:
	rm -rf build
