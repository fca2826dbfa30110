//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package syncclient

import (
	"errors"
	"os"
	"syscall"
)

// locks says whether lockFile locks.
const locks = true

// lockFile takes an exclusive lock on f, held until f is closed (or the
// process ends, killed or not: the kernel drops it), without waiting.
func lockFile(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return errLocked
	}
	return err
}
