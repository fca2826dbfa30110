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
// part: the client, arrearsd and PostgreSQL (the whole server: every
// database's backends and its background workers). On a shared machine it
// moves with the machine's speed, as the rates do; "?" marks a part whose
// time could not be read.

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
		return unread
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reads the CPU time of the parts of a benchmark run: the client
// (this process), arrearsd and PostgreSQL, each when its pid is known.
type cpuMeter struct {
	server, postgres int // pids; 0: not measured
}

type cpuSample struct{ client, server, postgres time.Duration }

// unread marks a part whose CPU time could not be read.
const unread = time.Duration(-1)

func (m cpuMeter) sample() cpuSample {
	s := cpuSample{client: selfCPU()}
	var err error
	if m.server != 0 {
		if s.server, err = procCPU(m.server); err != nil {
			s.server = unread
		}
	}
	if m.postgres != 0 {
		if s.postgres, err = treeCPU(m.postgres); err != nil {
			s.postgres = unread
		}
	}
	return s
}

// perInvoice formats the CPU each part spent between two samples, in
// microseconds per invoice.
func (m cpuMeter) perInvoice(from, to cpuSample, n int) string {
	us := func(from, to time.Duration) string {
		if from == unread || to == unread {
			return "?"
		}
		return strconv.FormatFloat(float64((to-from).Microseconds())/float64(n), 'f', 0, 64)
	}
	out := "client " + us(from.client, to.client)
	if m.server != 0 {
		out += ", arrearsd " + us(from.server, to.server)
	}
	if m.postgres != 0 {
		out += ", PostgreSQL " + us(from.postgres, to.postgres)
	}
	return out + " µs of CPU per invoice"
}
