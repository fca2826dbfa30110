package main

import (
	"bufio"
	"io"
	"net"
)

func newBuffered(w io.Writer) *bufio.Writer { return bufio.NewWriterSize(w, 1<<20) }

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
