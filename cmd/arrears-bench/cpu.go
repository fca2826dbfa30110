package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The benchmark prints, beside each rate, the CPU time per invoice of each
// part: the client, arrearsd and PostgreSQL. It says where the time goes,
// and whether a part is the bottleneck (the raw COPY spends one core of
// PostgreSQL per row's worth of wall time). On a shared machine it moves
// with the machine's speed, as the rates do.

// clockTick is Linux's USER_HZ, the unit of /proc's CPU times: 100 on
// every architecture Go supports there.
const clockTick = 10 * time.Millisecond

// procCPU is the CPU time of process pid and of its children it has
// waited for, from /proc/pid/stat.
func procCPU(pid int) (time.Duration, error) {
	fields, err := procStat(pid)
	if err != nil {
		return 0, err
	}
	// utime, stime, cutime, cstime: fields 14-17, 11-14 after the state.
	var sum time.Duration
	for _, f := range fields[11:15] {
		t, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, err
		}
		sum += time.Duration(t) * clockTick
	}
	return sum, nil
}

// procStat returns the fields of /proc/pid/stat after the command name,
// which may hold spaces: the state first.
func procStat(pid int) ([]string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 15 {
		return nil, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields))
	}
	return fields, nil
}

// treeCPU is the CPU time of pid, its finished children and its running
// children: for PostgreSQL's postmaster, the whole server's, backends that
// have exited included.
func treeCPU(pid int) (time.Duration, error) {
	sum, err := procCPU(pid)
	if err != nil {
		return 0, err
	}
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		child, err := strconv.Atoi(filepath.Base(p))
		if err != nil {
			continue
		}
		fields, err := procStat(child)
		if err != nil || fields[1] != strconv.Itoa(pid) { // ppid
			continue
		}
		if t, err := procCPU(child); err == nil {
			sum += t
		}
	}
	return sum, nil
}

// selfCPU is this process's CPU time: the client's.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reads the CPU time of the parts of a benchmark run: the client
// (this process), arrearsd and PostgreSQL, each when its pid is known.
type cpuMeter struct {
	server, postgres int // pids; 0: not measured
}

type cpuSample struct{ client, server, postgres time.Duration }

func (m cpuMeter) sample() cpuSample {
	s := cpuSample{client: selfCPU()}
	if m.server != 0 {
		s.server, _ = procCPU(m.server)
	}
	if m.postgres != 0 {
		s.postgres, _ = treeCPU(m.postgres)
	}
	return s
}

// perInvoice formats the CPU each part spent between two samples, in
// microseconds per invoice.
func (m cpuMeter) perInvoice(from, to cpuSample, n int) string {
	us := func(d time.Duration) string {
		return strconv.FormatFloat(float64(d.Microseconds())/float64(n), 'f', 0, 64)
	}
	out := "client " + us(to.client-from.client)
	if m.server != 0 {
		out += ", arrearsd " + us(to.server-from.server)
	}
	if m.postgres != 0 {
		out += ", PostgreSQL " + us(to.postgres-from.postgres)
	}
	return out + " µs of CPU per invoice"
}
