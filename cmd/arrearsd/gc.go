package main

import (
	"os"
	"runtime/debug"
)

// defaultGCPercent is the collector's target when GOGC is not set.
// arrearsd's live heap is small (a bulk sync keeps two chunks of 1,000
// records, about 20 MB), so Go's default of 100 collects every 20 MB or so
// and a sync spent about a fifth of the server's CPU marking and assisting.
// At 400 the heap peaks near 110 MB instead of 60 MB, far under what a
// replica is given, and that CPU goes to the work (measured in the README's
// bulk sync section). GOGC and GOMEMLIMIT in the environment still win.
const defaultGCPercent = 400

func setGCDefault() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
}
