# wsgrok: see README.md. Every target works on a fresh machine with Go.

GO       ?= go
FUZZTIME ?= 10s
BIN      := bin

.PHONY: run build test unit fuzz-short fuzz bench lint clean

## run: build and start edge, control, a demo app and an agent on loopback
run: build
	@$(BIN)/wsgrok-dev

## build: build every binary into ./bin
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./agent/cmd/... ./edge/cmd/... ./control/cmd/... ./bench/cmd/...

## test: vet, race-enabled tests, and each fuzz target for FUZZTIME
test: lint unit fuzz-short

unit:
	$(GO) test -race -timeout 20m ./...

fuzz-short:
	@./fuzz/run.sh $(FUZZTIME)

## fuzz: each fuzz target for longer (FUZZTIME=5m make fuzz)
fuzz:
	@./fuzz/run.sh $(if $(filter 10s,$(FUZZTIME)),2m,$(FUZZTIME))

## bench: session benchmarks against yamux and smux, then the end-to-end harness
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 3 ./bench/ ./proto/ ./wire/

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

clean:
	rm -rf $(BIN) .run
