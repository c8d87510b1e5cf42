package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
)

// servePprof serves Go's profiles (/debug/pprof/) on WSGROK_PPROF_ADDR
// when it is set, for whoever is measuring the agent (bench/README.md
// uses it). It is not a flag: users have no need of it, and the address
// should be a loopback one.
func servePprof(stderr io.Writer) {
	addr := os.Getenv("WSGROK_PPROF_ADDR")
	if addr == "" {
		return
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "wsgrok: WSGROK_PPROF_ADDR %s: %v\n", addr, err)
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux)
}
