//go:build nocontrol

package main

import (
	"context"
	"errors"
	"time"

	"github.com/wsgrok/wsgrok/edge"
)

// Built with -tags nocontrol, the edge links no control service: for
// edges that sync from a standalone wsgrok-control (--control-url). The
// embedded service's code, SQLite's above all, is not in the binary, and
// the edge's idle RSS falls from about 16 to 12.5 MB (bench/README.md):
// the kernel maps most of a binary's pages whether they run or not.
const defaultControlAddr = "off"

var errNoControl = errors.New("this wsgrok-edge was built without the embedded control service (-tags nocontrol): " +
	"run wsgrok-control and pass --control-url and --control-secret, or --control-addr off")

type embedded struct{ url string }

func startControl(string, edge.Config, time.Duration) (*embedded, error) { return nil, errNoControl }

func (*embedded) close()             {}
func (*embedded) edgeSecret() string { return "" }
func (*embedded) devSetup(context.Context, string) (_, _, _ string, err error) {
	return "", "", "", errNoControl
}
