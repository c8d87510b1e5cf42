//go:build !nocontrol

package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"time"

	"github.com/wsgrok/wsgrok/control"
	"github.com/wsgrok/wsgrok/edge"
)

// defaultControlAddr is where the embedded control service listens.
const defaultControlAddr = "127.0.0.1:9000"

// embedded is the control service running in this process.
type embedded struct {
	svc *control.Service
	url string
}

// startControl opens the control service's store under the edge's data
// directory and serves its API and dashboard on addr.
func startControl(addr string, cfg edge.Config, quarantine time.Duration) (*embedded, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("control service: %w (choose another --control-addr, or off)", err)
	}
	url := "http://" + ln.Addr().String()
	svc, err := control.New(control.Config{
		DataDir: filepath.Join(cfg.DataDir, "control"), PublicURL: url, Domain: cfg.Domain,
		Quarantine: quarantine, Logger: cfg.Logger.With("component", "control"),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	go svc.Serve(ln)
	return &embedded{svc: svc, url: url}, nil
}

func (e *embedded) close()             { e.svc.Close() }
func (e *embedded) edgeSecret() string { return e.svc.EdgeSecret() }

// devSetup makes sure the development account exists, and returns its
// login and an authtoken for it.
func (e *embedded) devSetup(ctx context.Context, email string) (login, password, token string, err error) {
	d, err := e.svc.EnsureDevSetup(ctx, email)
	if err != nil {
		return "", "", "", err
	}
	return d.Email, d.Password, d.Authtoken, nil
}
