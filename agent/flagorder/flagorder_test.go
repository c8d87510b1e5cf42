package flagorder

import (
	"flag"
	"slices"
	"testing"
)

func TestFlagsFirst(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.Int("c", 1, "")
	fs.Bool("h2", false, "")
	for _, tt := range []struct{ in, want []string }{
		{[]string{"http://a", "-c", "8", "-h2", "http://b", "--c=2", "--", "-weird"},
			[]string{"-c", "8", "-h2", "--c=2", "--", "http://a", "http://b", "-weird"}},
		{[]string{"-c", "3"}, []string{"-c", "3"}},
		{[]string{"a", "-unknown", "b"}, []string{"-unknown", "--", "a", "b"}},
		{[]string{"a", "-c"}, []string{"-c", "--", "a"}}, // fs reports the missing value
		{nil, nil},
	} {
		if got := FlagsFirst(fs, tt.in); !slices.Equal(got, tt.want) {
			t.Errorf("FlagsFirst(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
