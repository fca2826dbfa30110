// Package shutdown says which signals stop the commands gracefully.
package shutdown

import (
	"os"
	"os/signal"
	"syscall"
)

// Signals are the signals a command stops on: SIGTERM, and SIGINT and
// SIGHUP (a closed terminal) unless the process was started with them
// ignored. nohup, and a shell starting a background job, ignore them so
// that the job outlives its terminal; asking to be told of an ignored
// signal would undo that (os/signal: Notify installs a handler), and a
// sync or a server started so stopped when its user logged out.
func Signals() []os.Signal {
	sigs := []os.Signal{syscall.SIGTERM}
	for _, s := range []os.Signal{os.Interrupt, syscall.SIGHUP} {
		if !signal.Ignored(s) {
			sigs = append(sigs, s)
		}
	}
	return sigs
}
