// Package config reads wsgrok.yml, the agent's configuration file: where
// the edge is, the authtoken, and named tunnels with their policies, so
// that `wsgrok start web api` (or `wsgrok start --all`) serves them over
// the same sessions.
//
// The file is YAML; a complete one:
//
//	version: 1                       # optional; the only version is 1
//	authtoken: wsg1_...              # `wsgrok config add-authtoken` writes it
//	edge: edge.example.com:4443      # the edge's agent listener, host:port
//	ca: /path/to/ca.pem              # optional: extra CA to trust (PEM)
//	server_name: edge.example.com    # optional: TLS name to verify
//	pool: 2                          # optional: parallel sessions, 1-16
//	inspect_addr: 127.0.0.1:4040     # optional: the inspector; "off" disables
//	log: false                       # optional: false, stdout, stderr or a file
//
//	tunnels:
//	  web:
//	    proto: http                  # http or tcp
//	    addr: 3000                   # port, host:port or http(s)://host:port
//	    subdomain: myapp             # http only: the name asked for
//	    host_header: rewrite         # http only: Host sent to the local service
//	    allow_cidr: [10.0.0.0/8]     # policies, enforced by the edge:
//	    deny_cidr: [10.1.0.0/16]     #   client networks let in / kept out
//	    block_path: [/admin]         #   http only: path prefixes refused
//	    basic_auth: ["user:pass"]    #   http only: credentials required
//	    rate_limit: 600              #   requests a minute per client address
//	    inspect: true                #   false asks the edge not to record traffic
//	  ssh:
//	    proto: tcp
//	    addr: 22                     # port or host:port
//	    remote_port: 20022           # tcp only: the public port asked for
//
// List-valued keys also take a single value (allow_cidr: 10.0.0.0/8).
// Relative paths in ca and log are relative to the file's directory.
//
// Every problem is reported as "file:line:col: message" naming what to
// change, and Parse reports all of them rather than the first: an unknown
// key (with the closest known one), a value of the wrong type, a port
// outside 1-65535, a malformed CIDR, a basic_auth without ':', an invalid
// subdomain, a key of the other protocol, a repeated tunnel name, a tunnel
// without addr or with an unknown proto, a version other than 1, and a file
// that is not a mapping.
//
// The file is read by the developer's own agent, but it may come from a
// colleague or a repository, so it is parsed defensively: at most
// [MaxSize] bytes, one document, no panics on any input (see
// fuzz/config_test.go).
package config
