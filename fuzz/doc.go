// Package fuzz holds the fuzz targets of every parser in wsgrok that sees
// untrusted bytes. Run one with
//
//	go test -fuzz=FuzzFrame -fuzztime=30s ./fuzz
//
// `make fuzz` runs each for a while; `make test` runs each briefly, and
// with them the few targets that need a package's internals and so live
// beside it (edge's FuzzCleanPath).
package fuzz
