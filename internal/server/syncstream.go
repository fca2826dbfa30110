package server

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
)

// syncNDJSON serves POST /v1/sync: the SyncPayables stream as
// newline-delimited JSON, a request message per line in and a response
// message per line out ({"result": ...}, or {"error": ...} last). It is
// written out rather than generated because the generated handler, on a
// line it cannot decode, logs it and ends the upload as if the client had
// finished: the records before it committed, the rest were dropped, and
// the answer was a clean 200. Here a bad line ends the upload too (the
// records before it are answered, and the session's acknowledgement says
// where to resume), but the answer then ends with an error naming the line.
// A line is also bounded in size before it is decoded, so no message holds
// more memory than the gRPC limit allows.
type syncNDJSON struct {
	conn    *grpc.ClientConn
	gw      *runtime.ServeMux
	maxLine int
	idle    time.Duration // how long the first line is awaited
	// stopping ends the wait for the first line as the server stops; the
	// stream after it drains on its own.
	stopping <-chan struct{}
	log      *slog.Logger
}

// badLine is a request line that is not a message.
type badLine struct {
	line int
	err  error
}

func (e *badLine) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }

func (e *badLine) status() *status.Status {
	desc := e.err.Error()
	var fe *fieldError
	if errors.As(e.err, &fe) {
		desc = fe.path + ": " + fe.text // the line's field, in plain words
	}
	return withViolation(status.New(codes.InvalidArgument, fmt.Sprintf("line %d: %s", e.line, desc)), fmt.Sprintf("line %d", e.line), desc)
}

// lines reads the request's non-empty lines, each at most max bytes.
type lines struct {
	sc  *bufio.Scanner
	n   int
	max int
}

func newLines(r io.Reader, max int) *lines {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, min(max, 64<<10)), max)
	return &lines{sc: sc, max: max}
}

// next decodes the next line into msg; io.EOF at the end of the body.
func (l *lines) next(msg proto.Message) error {
	for l.sc.Scan() {
		l.n++
		// A byte-order mark, as Windows editors start a file (or each of
		// files joined), is no part of the JSON.
		text := bytes.TrimSpace(bytes.TrimPrefix(l.sc.Bytes(), []byte("\ufeff")))
		if len(text) == 0 {
			continue
		}
		if jsonOverBudget(text, decodeBudgetFactor*l.max) {
			return &badLine{l.n, errJSONOverBudget}
		}
		if err := protojson.Unmarshal(text, msg); err != nil {
			return &badLine{l.n, describeJSONError(text, err)}
		}
		return nil
	}
	switch err := l.sc.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return &badLine{l.n + 1, fmt.Errorf("longer than %d bytes", l.max)}
	case errors.Is(err, os.ErrDeadlineExceeded):
		return err // the handler's own deadline: it says why
	case err != nil:
		// A broken transfer encoding, or a client gone: the reader's own
		// words are the transport's, not the API's.
		return &badLine{l.n + 1, errors.New("the request body could not be read")}
	}
	return io.EOF
}

func (h *syncNDJSON) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Results are written while the upload is read: HTTP/1.1 clients that
	// read as they send get them as chunks commit.
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex()
	in := newLines(r.Body, h.maxLine)
	first := &arrearsv1.SyncPayablesRequest{}
	// The first line is awaited as the stream awaits its SyncOpen, no
	// longer than its idle timeout: a client that sent its headers and
	// fell silent would otherwise hold the handler and its connection.
	_ = rc.SetReadDeadline(time.Now().Add(h.idle))
	read, stopped := make(chan struct{}), false
	var mu sync.Mutex
	go func() {
		select {
		case <-h.stopping:
			mu.Lock()
			defer mu.Unlock()
			select {
			case <-read:
			default:
				stopped = true
				_ = rc.SetReadDeadline(time.Now())
			}
		case <-read:
		}
	}()
	err := in.next(first)
	mu.Lock()
	close(read)
	cut := stopped
	mu.Unlock()
	_ = rc.SetReadDeadline(time.Time{})
	if err != nil {
		switch {
		case errors.Is(err, io.EOF):
			err = &badLine{1, errors.New("the body is empty: it must start with a SyncOpen message")}
		case cut && errors.Is(err, os.ErrDeadlineExceeded):
			err = status.Error(codes.Unavailable, "the server is stopping: send the upload again to resume the session")
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = status.Errorf(codes.DeadlineExceeded, "no message for %v: the upload is closed; its first line must be the SyncOpen", h.idle)
		}
		h.failBefore(w, r, err)
		return
	}
	ctx, cancel := context.WithCancel(outgoing(r))
	defer cancel()
	stream, err := arrearsv1.NewSyncServiceClient(h.conn).SyncPayables(ctx)
	if err == nil {
		if err = stream.Send(first); errors.Is(err, io.EOF) {
			_, err = stream.Recv() // the server ended the stream: this says why
		}
	}
	if err != nil {
		h.failBefore(w, r, err)
		return
	}
	sent := make(chan error, 1)
	go func() {
		for {
			msg := &arrearsv1.SyncPayablesRequest{}
			err := in.next(msg)
			if err == nil {
				if err = stream.Send(msg); err == nil {
					continue
				}
				if errors.Is(err, io.EOF) {
					sent <- nil // the server ended the stream: Recv says why
					return
				}
			}
			// At the end of the body, or at a line that is no message:
			// the chunks sent are answered either way.
			_ = stream.CloseSend()
			if errors.Is(err, io.EOF) {
				err = nil
			}
			sent <- err
			return
		}
	}()
	// stopReading ends the sender, which may be waiting on the body for a
	// client that waits for us: the read fails at once, and the sender
	// returns without touching the body again.
	stopReading := func() error {
		cancel()
		_ = rc.SetReadDeadline(time.Now())
		return <-sent
	}
	wrote := false
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// The stream failed: that is the answer, whatever the body
			// still held (a bad line after a failed chunk is not news).
			h.failAfter(w, r, rc, wrote, err)
			_ = stopReading()
			return
		}
		if !wrote {
			w.Header().Set("Content-Type", "application/x-ndjson")
			wrote = true
		}
		body, err := protojson.MarshalOptions{EmitUnpopulated: false}.Marshal(resp)
		if err != nil {
			h.failAfter(w, r, rc, wrote, err)
			_ = stopReading()
			return
		}
		_, _ = fmt.Fprintf(w, "{\"result\":%s}\n", body)
		_ = rc.Flush()
	}
	if err := <-sent; err != nil {
		h.failAfter(w, r, rc, wrote, err)
	}
}

// failBefore answers an error before any result was written, with the
// status code and body any other route would give it.
func (h *syncNDJSON) failBefore(w http.ResponseWriter, r *http.Request, err error) {
	var bl *badLine
	if errors.As(err, &bl) {
		err = bl.status().Err()
	}
	errorHandler(r.Context(), h.gw, &runtime.JSONPb{}, w, r, err)
}

// failAfter ends a stream whose results have started (HTTP 200 is sent)
// with an error line, as the gateway ends a failed stream.
func (h *syncNDJSON) failAfter(w http.ResponseWriter, r *http.Request, rc *http.ResponseController, wrote bool, err error) {
	if !wrote {
		h.failBefore(w, r, err)
		return
	}
	var bl *badLine
	st, ok := status.FromError(err)
	switch {
	case errors.As(err, &bl):
		st = bl.status()
	case !ok:
		h.log.WarnContext(r.Context(), "sync stream", "err", err)
		st = status.New(codes.Internal, "internal error")
	}
	body, merr := protojson.Marshal(st.Proto())
	if merr != nil {
		body = []byte(`{"code":13,"message":"internal error"}`)
	}
	_, _ = fmt.Fprintf(w, "{\"error\":%s}\n", body)
	_ = rc.Flush()
}
