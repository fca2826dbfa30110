//go:build !unix

package main

import "os"

// columns is 0, the default width: this system's terminal size is not
// asked.
func columns(*os.File) int { return 0 }
