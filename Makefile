# The two commands of the README's Quick start, and their parts.
#   make run   set up what is missing, build, and run Baton on SQLite
#   make test  set up what is missing, then every check CI runs
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
ENV := source scripts/env.sh &&

.PHONY: run test bootstrap-run bootstrap-test site server fmt-check lint rust-tests e2e release bench bench-ui

run: bootstrap-run site server
	@$(ENV) exec target/debug/baton

test: bootstrap-test fmt-check lint site server rust-tests e2e
	@echo "All checks passed."

bootstrap-run:
	@scripts/bootstrap run

bootstrap-test:
	@scripts/bootstrap test

site:
	@scripts/build-site

server:
	@$(ENV) log "building the server" && cargo build --quiet -p server

fmt-check:
	@$(ENV) log "cargo fmt --check" && cargo fmt --all --check

lint:
	@$(ENV) log "cargo clippy" && cargo clippy --quiet --all-targets -- -D warnings

rust-tests:
	@$(ENV) url="$$(scripts/test-postgres)" && log "Rust tests (SQLite and PostgreSQL at $$url)" && \
	  BATON_TEST_POSTGRES_URL="$$url" BATON_REQUIRE_POSTGRES=1 cargo test --quiet

e2e:
	@$(ENV) log "Playwright end-to-end tests" && cd end2end && npx playwright test

release:
	@scripts/bootstrap release && scripts/build-site --release && \
	  $(ENV) cargo build --release -p server && echo "target/release/baton is ready"

# Engine benchmarks (release build): W1, W3, W4 and W5 on SQLite and PostgreSQL, raw insert rate beside.
bench:
	@scripts/bootstrap test && $(ENV) url="$$(scripts/test-postgres)" && \
	  cargo run --quiet --release -p bench -- --postgres "$$url"

# The designer's drag benchmark (200-node workflow) in Chromium, with the release wasm users
# get; afterwards `make site` puts the debug wasm back for the tests.
bench-ui: bootstrap-test server
	@scripts/bootstrap release && scripts/build-site --release && \
	  $(ENV) log "designer drag benchmark" && cd end2end && npx playwright test --config bench.config.ts
