// Package bench holds benchmarks that compare the wsgrok session (package
// proto) with other stream multiplexers (hashicorp/yamux, xtaci/smux) in
// one run, over loopback TCP and TLS. It has no code of its own: see the
// _test.go files and README.md.
package bench
