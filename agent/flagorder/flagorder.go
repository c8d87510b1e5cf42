// Package flagorder lets flags follow positional arguments on a command
// line, as in `wsgrok http 3000 --subdomain demo` or `wsgrok-bench URL -c 8`:
// Go's flag package stops at the first argument that is not a flag.
package flagorder

import (
	"flag"
	"strings"
)

// FlagsFirst returns args with the flags of fs (and their values) moved in
// front of the positional arguments, which follow a "--" so that none is
// read as a flag. A "--" in args ends the flags, as it does for package
// flag; a flag fs does not define is kept in place for fs to report.
func FlagsFirst(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if f := fs.Lookup(name); f != nil && !hasValue && !isBool(f) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	if len(pos) == 0 {
		return flags
	}
	return append(append(flags, "--"), pos...)
}

func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}
