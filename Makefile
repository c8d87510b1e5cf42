# wsgrok: see README.md. Every target works on a fresh machine with Go.

GO       ?= go
FUZZTIME ?= 10s
BIN      := bin

.PHONY: run build test unit fuzz-short fuzz bench lint clean

RUN := .run

## run: build and start the edge (with the control service and dashboard), a demo app and an agent on loopback
run: build
	@set -e; mkdir -p $(RUN); rm -f $(RUN)/token $(RUN)/demo.out; \
	trap 'kill $$(jobs -p) 2>/dev/null; wait 2>/dev/null; echo; echo "wsgrok: stopped"' INT TERM EXIT; \
	$(BIN)/wsgrok-backend -addr 127.0.0.1:0 > $(RUN)/demo.out 2>&1 & \
	$(BIN)/wsgrok-edge --data-dir $(RUN)/edge --dev-token-file $(RUN)/token > $(RUN)/edge.out 2> $(RUN)/edge.log & \
	for i in $$(seq 100); do [ -s $(RUN)/token ] && grep -q listening $(RUN)/demo.out && break; sleep 0.1; done; \
	if [ ! -s $(RUN)/token ]; then cat $(RUN)/edge.log; exit 1; fi; \
	demo=$$(sed -n 's|.*listening on http://||p' $(RUN)/demo.out); \
	$(BIN)/wsgrok http $$demo --subdomain demo --edge 127.0.0.1:4443 --ca $(RUN)/edge/ca.pem \
		--authtoken $$(cat $(RUN)/token) --config $(RUN)/wsgrok.yml --log $(RUN)/agent.log & \
	sleep 1; echo; \
	echo "  Open  http://demo.localhost:8080   (or https://demo.localhost:8443, CA in $(RUN)/edge/ca.pem)"; \
	sed -n 's|^  dashboard: |  Dashboard |p' $(RUN)/edge.out; \
	echo "  Tunnel your own port:"; \
	echo "    $(BIN)/wsgrok http 3000 --edge 127.0.0.1:4443 --ca $(RUN)/edge/ca.pem --authtoken \$$(cat $(RUN)/token)"; \
	echo "  Metrics http://127.0.0.1:9090/metrics · logs in $(RUN)/ · Ctrl-C stops everything"; echo; \
	wait

## build: build every binary into ./bin
build:
	@mkdir -p $(BIN)
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/ ./agent/cmd/... ./edge/cmd/... ./control/cmd/... ./bench/cmd/...

## test: vet, race-enabled tests, and each fuzz target for FUZZTIME
test: lint unit fuzz-short

unit:
	$(GO) test -race -count=1 -timeout 20m ./...

fuzz-short:
	@./fuzz/run.sh $(FUZZTIME)

## fuzz: each fuzz target for longer (FUZZTIME=5m make fuzz)
fuzz:
	@./fuzz/run.sh $(if $(filter 10s,$(FUZZTIME)),2m,$(FUZZTIME))

## bench: session benchmarks against yamux and smux (short), then the end-to-end harness
## (SUITEFLAGS=-quick for a short run; results in bench/results/)
SUITEFLAGS ?=
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 1 -benchtime 1s ./bench/ ./proto/ ./wire/
	$(MAKE) build
	$(BIN)/wsgrok-bench suite -bin $(BIN) -out bench/results $(SUITEFLAGS)

## lint: gofmt and go vet
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags nocontrol ./edge/cmd/wsgrok-edge

clean:
	rm -rf $(BIN) .run
