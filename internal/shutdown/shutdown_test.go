package shutdown

import (
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
)

// TestIgnoredAtStartStaysIgnored: a process started with SIGHUP ignored
// (as nohup starts one) does not stop on it; one started without does.
func TestIgnoredAtStartStaysIgnored(t *testing.T) {
	if os.Getenv("SHUTDOWN_CHILD") == "1" {
		for _, s := range Signals() {
			os.Stdout.WriteString(s.String() + "\n")
		}
		os.Exit(0)
	}
	run := func() string {
		cmd := exec.Command(os.Args[0], "-test.run=TestIgnoredAtStartStaysIgnored")
		cmd.Env = append(os.Environ(), "SHUTDOWN_CHILD=1")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	if got := run(); !strings.Contains(got, syscall.SIGHUP.String()) {
		t.Errorf("started plainly, the signals are %q; want hangup among them", got)
	}
	signal.Ignore(syscall.SIGHUP) // inherited across exec, as nohup sets it
	defer signal.Reset(syscall.SIGHUP)
	if got := run(); strings.Contains(got, syscall.SIGHUP.String()) {
		t.Errorf("started with hangup ignored, the signals are %q; want it left ignored", got)
	}
}
