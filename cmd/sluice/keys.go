package main

import (
	"fmt"
	"io"
	"regexp"

	"github.com/sluice-gw/sluice/host/auth"
)

var keyIDRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// keys runs `sluice keys new [--id ID]`: it mints a virtual key and prints the secret, to hand
// to the caller, and the [[auth.keys]] entry holding only its hash, to paste into the config.
func keys(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "usage: sluice keys new [--id ID]")
		return errSilent
	}
	fs := newFlags("keys new", stderr)
	id := fs.String("id", "", "key id for the config entry (default: derived from the key)")
	if err := fs.Parse(args[1:]); err != nil {
		return errSilent
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice keys new: unexpected argument %q\n", fs.Arg(0))
		return errSilent
	}
	plain, hash := auth.NewKey()
	if *id == "" {
		// The hash prefix is not secret and keeps generated ids distinct.
		*id = "key-" + hash[len("sha256:"):len("sha256:")+8]
	}
	if !keyIDRE.MatchString(*id) {
		fmt.Fprintf(stderr, "sluice keys new: id %q: use letters, digits, '.', '_' and '-'\n", *id)
		return errSilent
	}
	fmt.Fprintf(stdout, "key: %s\nkey_hash: %s\n\n# Give the key to its owner; it is not shown again. Add this to sluice.toml:\n[[auth.keys]]\nid = %q\nkey_hash = %q\n", plain, hash, *id, hash)
	return nil
}
