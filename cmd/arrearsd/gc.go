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

// defaultMemoryLimit is the collector's soft memory limit when GOMEMLIMIT
// is not set. At 400 the heap may grow to five times what is live: far
// under any replica's memory in use (a sync's live heap is tens of MB),
// but many sync streams at once keep hundreds of MB live (four chunks
// being applied, each stream's next one decoded), which grew to 1.6 GB.
// Near the limit the collector works harder instead. Set GOMEMLIMIT to the
// replica's memory, less some room, where it is smaller or larger.
const defaultMemoryLimit = 1 << 30

func setGCDefault() {
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	if _, set := os.LookupEnv("GOMEMLIMIT"); !set {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
}
