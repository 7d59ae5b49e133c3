# amusd — the two commands of the README:
#   make demo   installs what it needs, builds, and runs a speculative generation
#   make test   installs what it needs, builds, and runs every test (also under ASan/UBSan and TSan)
SHARED ?= ../shared
JOBS   ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all setup build demo test test-release test-asan test-tsan bench clean

all: build

setup:
	@bash scripts/setup.sh

build: setup
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DAMUSD_SHARED_DIR=$(abspath $(SHARED)) $(CMAKE_FLAGS) >/dev/null
	@cmake --build build -j $(JOBS)

demo: build
	@echo "== ar: plain autoregressive decoding (stories260K, greedy) =="
	./build/amusd generate -m $(SHARED)/models/stories260K.gguf -p "Once upon a time" -n 128 --temp 0
	@echo
	@echo "== amusd: draft on CPU 0, verifier on CPU 1, same text =="
	./build/amusd generate -m $(SHARED)/models/stories260K.gguf -md $(SHARED)/models/stories260K-draft.gguf \
	    --strategy amusd --cpus-draft 0 --cpus-verify 1 -p "Once upon a time" -n 128 --temp 0

test: test-release test-asan test-tsan

test-release: build
	@cd build && ctest --output-on-failure -j $(JOBS) --timeout 900

# Memory errors and undefined behaviour, on the tests that parse untrusted input and exercise the engine.
test-asan: setup
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMUSD_SANITIZE=address \
	    -DAMUSD_BUILD_BENCH=OFF -DAMUSD_SHARED_DIR=$(abspath $(SHARED)) >/dev/null
	@cmake --build build-asan -j $(JOBS) --target tests_asan
	@cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j $(JOBS) --timeout 900 -L 'asan|tsan'

# Data races in the concurrent code (the asynchronous strategy, thread groups, cancellation).
test-tsan: setup
	@cmake -S . -B build-tsan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAMUSD_SANITIZE=thread \
	    -DAMUSD_BUILD_BENCH=OFF -DAMUSD_SHARED_DIR=$(abspath $(SHARED)) >/dev/null
	@cmake --build build-tsan -j $(JOBS) --target tests_tsan
	@cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" ctest --output-on-failure -j $(JOBS) --timeout 900 -L tsan

bench: build
	./build/amusd_microbench

clean:
	rm -rf build build-asan build-tsan
