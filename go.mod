module github.com/wsgrok/wsgrok

go 1.26.8

require (
	github.com/klauspost/compress v1.20.4
	golang.org/x/net v0.62.0
)

require go.uber.org/goleak v1.3.0
