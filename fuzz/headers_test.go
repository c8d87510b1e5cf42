package fuzz

import (
	"errors"
	"net/http"
	"net/textproto"
	"reflect"
	"strings"
	"testing"

	"github.com/wsgrok/wsgrok/wire"
)

// FuzzHeaderBlock decodes arbitrary HPACK blocks with the session's limits.
// A list that decodes stays within the limit, and re-encoding it yields a
// block that decodes to the same list on a fresh context.
func FuzzHeaderBlock(f *testing.F) {
	enc := wire.NewHeaderEncoder(4096)
	f.Add(enc.AppendBlock(nil, []wire.HeaderField{{Name: ":method", Value: "GET"}, {Name: ":path", Value: "/"}}))
	f.Add(enc.AppendBlock(nil, []wire.HeaderField{{Name: ":status", Value: "200"}, {Name: "set-cookie", Value: "a=b; Path=/; HttpOnly"}}))
	f.Add([]byte{0x3f, 0xe1, 0x1f})       // table size update
	f.Add([]byte{0xff, 0xff, 0xff, 0x0f}) // index out of range
	f.Fuzz(func(t *testing.T, block []byte) {
		const maxList = 4096
		dec := wire.NewHeaderDecoder(4096, maxList)
		// Decode twice on the same context: the second pass exercises
		// whatever the first added to the dynamic table.
		for range 2 {
			fields, err := dec.Decode(1, block)
			if err != nil {
				var ce wire.ConnError
				var se wire.StreamError
				if !errors.As(err, &ce) && !errors.As(err, &se) {
					t.Fatalf("error without a protocol code: %v", err)
				}
				if errors.As(err, &ce) {
					return // the context is now unusable, as a session would end
				}
				continue
			}
			size := 0
			for _, f := range fields {
				size += int(f.Size())
			}
			if size > maxList {
				t.Fatalf("decoded list of %d octets past the %d limit", size, maxList)
			}
			again, err := wire.NewHeaderDecoder(4096, maxList).Decode(1, wire.NewHeaderEncoder(4096).AppendBlock(nil, fields))
			if err != nil || len(again) != len(fields) {
				t.Fatalf("re-encoded list does not decode: %v", err)
			}
			for i := range fields {
				if again[i].Name != fields[i].Name || again[i].Value != fields[i].Value {
					t.Fatalf("field %d changed: %v -> %v", i, fields[i], again[i])
				}
			}
		}
	})
}

// FuzzCanonicalKey holds wire.CanonicalKey, which the agent and the https
// ingress use on every header name a client or local service sends, equal
// to textproto.CanonicalMIMEHeaderKey, and ToHTTPHeader equal to
// Header.Add field by field.
func FuzzCanonicalKey(f *testing.F) {
	for _, s := range []string{"", "x-forwarded-for", "CONTENT-type", "a b", "x_y", "é", "-a--b-",
		"sec-websocket-key", "x-a-very-long-header-name-past-the-stack-buffer", "user-agent\x00"} {
		f.Add(s, "v")
	}
	f.Fuzz(func(t *testing.T, name, value string) {
		if got, want := wire.CanonicalKey(name), textproto.CanonicalMIMEHeaderKey(name); got != want {
			t.Fatalf("CanonicalKey(%q) = %q, textproto gives %q", name, got, want)
		}
		fields := []wire.HeaderField{{Name: name, Value: value}, {Name: "x-other", Value: value}, {Name: name, Value: "again"}}
		got, want := http.Header{}, http.Header{}
		wire.ToHTTPHeader(got, fields)
		for _, f := range fields {
			if !strings.HasPrefix(f.Name, ":") {
				want.Add(f.Name, f.Value)
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ToHTTPHeader(%q) = %v, Header.Add gives %v", fields, got, want)
		}
	})
}
