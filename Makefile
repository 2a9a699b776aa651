# Developer shortcuts. The README's commands stay the reference:
# `go run ./cmd/hookd serve` and `go test ./...` (which also runs the
# dashboard's component and browser tests; see docs/dashboard.md).

GO ?= go
NPM ?= npm

.PHONY: all build test web web-deps web-check web-test e2e screenshots dev clean

all: build

## build: the hookd binary, with the committed dashboard embedded
build:
	$(GO) build -o hookd ./cmd/hookd

## test: the whole test suite (Go, dashboard components, browser end to end)
test:
	$(GO) test ./...

## web-deps: install the dashboard's pinned npm packages
web-deps: web/node_modules/.package-lock.json

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && $(NPM) ci --no-audit --no-fund

## web: rebuild the dashboard into internal/web/dist (commit the result)
web: web-deps
	cd web && $(NPM) run build

## web-check: fail when the committed dashboard differs from a fresh build
web-check: web
	@git diff --exit-code --stat -- internal/web/dist && \
	test -z "$$(git status --porcelain -- internal/web/dist)" || \
	{ echo "internal/web/dist is not what web/ builds: run make web and commit"; exit 1; }

## web-test: the dashboard's component tests (Vitest) alone
web-test: web-deps
	cd web && npx vitest run

## e2e: the browser tests alone (real hookd, headless Chromium)
e2e: web-deps
	$(GO) test -count=1 -run 'TestDashboard' ./internal/web

## screenshots: rerun the browser tests and refresh the README's screenshots
screenshots: web-deps
	HOOKD_UPDATE_SCREENSHOTS=1 $(GO) test -count=1 -run 'TestDashboardEndToEnd' ./internal/web

## dev: Vite's dev server on :5173, proxying /api to a hookd on :4000
dev: web-deps
	cd web && npx vite

clean:
	rm -f hookd
	rm -rf web/artifacts
