//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package syncclient

import "os"

// lockFile does not lock where the system has no flock (Windows): two runs
// of one file there must not overlap, as the README says.
func lockFile(*os.File) error { return nil }

// locks says whether lockFile locks.
const locks = false
