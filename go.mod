module github.com/wsgrok/wsgrok

go 1.26.8

require (
	github.com/klauspost/compress v1.20.4
	golang.org/x/net v0.62.0
)

require (
	github.com/VictoriaMetrics/metrics v1.45.0
	github.com/cespare/xxhash/v2 v2.3.0
	github.com/hashicorp/yamux v0.1.2
	github.com/panjf2000/gnet/v2 v2.9.7
	github.com/peterbourgon/ff/v3 v3.4.0
	github.com/xtaci/smux v1.5.58
	go.uber.org/goleak v1.3.0
)

require (
	github.com/panjf2000/ants/v2 v2.11.3 // indirect
	github.com/valyala/bytebufferpool v1.0.0 // indirect
	github.com/valyala/fastrand v1.1.0 // indirect
	github.com/valyala/histogram v1.2.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	go.uber.org/zap v1.27.0 // indirect
	golang.org/x/sync v0.24.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	gopkg.in/natefinch/lumberjack.v2 v2.2.1 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
