// Package syncclient is the client side of the bulk payables sync: it reads
// a CSV or NDJSON file of payables, streams it to arrearsd in chunks with a
// bounded number in flight, reports progress, and resumes an interrupted
// run where the server's acknowledged sequence says. arrearsctl is a thin
// command around it.
package syncclient

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/protojsonerr"
)

// Options configure a run.
type Options struct {
	Conn    *grpc.ClientConn
	Token   string
	Debtor  string // party name, either form
	File    string
	Session string // default: derived from the file's name and content
	Chunk   int    // records per chunk (default 500, at most 1000)
	Window  int    // chunks in flight (default 4)
	// Progress receives a line to draw at most every Every (default 200 ms);
	// Terminal draws it in place.
	Progress io.Writer
	Terminal bool
	Every    time.Duration
	// Columns gives the terminal's width as it is now (nil, or 0: 80),
	// asked at each redraw: the bar fits it, after a resize too.
	Columns func() int
	// LogEvery is how often a line of progress is written when Progress
	// is no terminal (default 30 s): a cron job's log shows a long run
	// moving, where it used to show one line at the end.
	LogEvery time.Duration
	// Stop, when closed, ends the run gently: no more chunks are sent, the
	// server answers those in flight, and Run returns ErrStopped with
	// their results counted. Cancelling ctx ends it at once instead: the
	// server may have committed chunks whose answers are lost; a rerun
	// resumes after them and takes their rejections from the server
	// (Report.Recovered).
	Stop <-chan struct{}
	// Rejects, when set, names a file that receives every rejected record
	// as a line of JSON (a RecordResult) as soon as it is known: a fresh
	// session starts it afresh, a resumed one appends to it, so after a
	// run interrupted any number of times it lists every rejection.
	Rejects string

	// held are the sequences of the rejections this invocation knows,
	// shared by RunRetrying's attempts (nil: Run's own).
	held map[int64]bool
}

// ErrNotTheFile is a file refused before anything was sent because it is
// not the one its session took: shorter than the session acknowledged, or
// other records up to there.
var ErrNotTheFile = errors.New("not the session's file")

// ErrStopped is a run ended through Options.Stop before the whole file was
// sent; everything acknowledged is durable and a rerun resumes after it.
var ErrStopped = errors.New("stopped before the end of the file")

// Report is what a run did.
type Report struct {
	Session            string
	Total, ResumeAfter int64
	Acknowledged       int64
	// Done is true once every record of the file is accounted for: sent
	// and acknowledged, or unreadable and reported (the acknowledged
	// sequence then falls short of Total by the unreadable rows at the end).
	Done     bool
	Outcomes map[string]int64
	Rejected []*arrearsv1.RecordResult // this run's first 100 in the file; all are in Options.Rejects
	// Lines gives the file's line each of Rejected starts on, where known
	// (not for rejections an earlier run's lost answers held).
	Lines map[int64]int
	// RejectedBefore counts the rejections of the records at or before
	// ResumeAfter: those earlier runs of the session wrote to
	// Options.Rejects or RunRetrying's earlier attempts reported, and
	// those the server lists beyond them (Recovered, written there now):
	// with a regular rejects file, the rejections in answers no run
	// received; without one, every rejection the server kept. Recovered
	// also counts rejections of records this run found DUPLICATE: a chunk
	// of an earlier connection, committed as this run began.
	RejectedBefore int64
	Recovered      int64
	// Reread counts the rejections at or before ResumeAfter that the file
	// itself refused (never sent, so not in the server's list) and that no
	// rejects file held: read again from the file and written there now
	// (under the session named after the file only).
	Reread int64
	// Ahead counts the rejections of records after Acknowledged: rows the
	// file itself refused, read ahead of the server's answers. They are
	// among Outcomes' REJECTED, and a rerun reads and refuses them again.
	Ahead   int64
	Elapsed time.Duration

	opened  bool // the server opened the session
	reached bool // the server was reached, and refused to open it
}

// Retry says how a run resumes by itself when the server becomes
// unavailable (it stopped, a replica restarts, the network failed): up to
// Attempts further runs, the first after Wait, each wait twice the one
// before up to a minute. Each is a rerun: it resumes the session after
// its acknowledged records.
type Retry struct {
	Attempts int
	Wait     time.Duration
	// Notify, when set, hears of each retry before its wait.
	Notify func(err error, wait time.Duration)
}

// RunRetrying is Run, run again as r says while the server is
// unavailable or a chunk conflicts (Resumable). Its report is the
// invocation's: where the session stands after the last run that opened it,
// what all its runs did (outcomes, the rejections it made, from where the
// first resumed, the time since it began), and, in RejectedBefore, the
// rejections earlier invocations made. A run that moved the session on starts the
// count of attempts and the waits afresh: a long sync rides out any number
// of restarts far apart. The first Ctrl-C (o.Stop) or ctx ends a wait as
// it ends a run.
func RunRetrying(ctx context.Context, o Options, r Retry) (*Report, error) {
	wait := r.Wait
	if o.held == nil {
		o.held = map[int64]bool{}
	}
	var last *Report
	reached := false
	var runs invocation
	runs.start = time.Now()
	defer func() { runs.report(last) }()
	for attempt := 0; ; attempt++ {
		rep, err := Run(ctx, o)
		if rep == nil {
			return last, err
		}
		runs.add(rep)
		// A run that did not open the session learned nothing: the last
		// one that did says how far the session is (an attempt that met
		// the server still down reported 0 acknowledged).
		if rep.opened || last == nil {
			last = rep
		}
		// Only a server that was reached and then went away is waited for:
		// one never reached (a wrong host, a CA that does not match,
		// plaintext against TLS) answers UNAVAILABLE too, and would be
		// retried for three minutes, the file read again each time. Once
		// reached, it is waited for however many attempts ago that was:
		// the attempts start again after progress, and the first of them
		// may find the server still restarting.
		// A server that answered (its database down, say: "cannot check
		// the API key now") was reached too: its connection stands.
		// The connection's state is asked too, though a server's answer
		// left it CONNECTING in 2 of 717 runs under load.
		reached = reached || rep.opened || rep.reached || (o.Conn != nil && o.Conn.GetState() == connectivity.Ready)
		if rep.opened && rep.Acknowledged > rep.ResumeAfter {
			// Progress: the attempts count afresh, from this failure's.
			attempt, wait = 0, r.Wait
		}
		if !reached || attempt >= r.Attempts || !Resumable(err) || ctx.Err() != nil {
			return last, err
		}
		if r.Notify != nil {
			r.Notify(err, wait)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return last, ctx.Err()
		case <-o.Stop:
			t.Stop()
			return last, ErrStopped
		}
		wait = min(2*wait, time.Minute)
		if o.Conn != nil {
			// The server may be back: without this the connection kept
			// failing calls at once with the old error until gRPC's own
			// reconnect backoff (up to two minutes) ran out.
			o.Conn.ResetConnectBackoff()
		}
	}
}

// invocation gathers the runs of one RunRetrying, so that its report says
// what the invocation did, not only its last run: records created in all
// its runs, the rejections it made, from where it resumed, how long it
// took.
type invocation struct {
	start    time.Time
	first    *Report // the first run that opened the session
	outcomes map[string]int64
	rejected map[int64]*arrearsv1.RecordResult
	lines    map[int64]int
}

func (v *invocation) add(r *Report) {
	if !r.opened {
		return
	}
	if v.first == nil {
		v.first = r
		v.outcomes, v.rejected, v.lines = map[string]int64{}, map[int64]*arrearsv1.RecordResult{}, map[int64]int{}
	}
	for o, n := range r.Outcomes {
		if o != "REJECTED" { // re-read records are rejected again: counted below
			v.outcomes[o] += n
		}
	}
	for _, res := range r.Rejected {
		v.rejected[res.Sequence] = res
	}
	maps.Copy(v.lines, r.Lines)
}

// report rewrites last, the last run's report, as the invocation's. Its
// rejections are all those known at the end less those known before it
// began (a run resumed re-reads, and rejects again, the records after its
// resume point, so the runs' counts do not add).
func (v *invocation) report(last *Report) {
	if v.first == nil || last == nil || !last.opened {
		return
	}
	known := last.RejectedBefore + last.Outcomes["REJECTED"]
	outcomes := maps.Clone(v.outcomes)
	if n := max(known-v.first.RejectedBefore, 0); n > 0 {
		outcomes["REJECTED"] = n
	}
	rejected := slices.SortedFunc(maps.Values(v.rejected), bySequence)
	last.Outcomes, last.Rejected = outcomes, rejected[:min(len(rejected), 100)]
	last.Lines = map[int64]int{}
	for _, res := range last.Rejected {
		if line, ok := v.lines[res.Sequence]; ok {
			last.Lines[res.Sequence] = line
		}
	}
	last.ResumeAfter, last.RejectedBefore = v.first.ResumeAfter, v.first.RejectedBefore
	last.Recovered, last.Reread = v.first.Recovered, v.first.Reread
	last.Elapsed = time.Since(v.start)
}

// bySequence orders record results by their place in the file.
func bySequence(a, b *arrearsv1.RecordResult) int { return cmp.Compare(a.Sequence, b.Sequence) }

// Resumable reports whether a run that ended with err is run again:
// UNAVAILABLE (a server stopping, restarting or without its database),
// ABORTED (a chunk that lost races with other writers of its invoices,
// the server's sweep among them, more times than the server reruns it),
// and DEADLINE_EXCEEDED when the server closed the stream of a client
// silent past its idle timeout, one stopped or asleep (it says to open the
// session again): resumed, the session takes the chunk again.
func Resumable(err error) bool {
	switch status.Code(err) {
	case codes.Unavailable, codes.Aborted:
		return true
	case codes.DeadlineExceeded:
		// The server's own closes say so; a chunk past its time limit
		// would run as long again.
		return strings.Contains(status.Convert(err).Message(), "open the session again to resume")
	}
	return false
}

// SessionOpened reports whether the run opened its session, and so whether
// the report says where the session stands.
func (r *Report) SessionOpened() bool { return r.opened }

// Run syncs the file. It returns when the file is done, or with ctx's error
// when interrupted: everything acknowledged so far is durable, and a rerun
// with the same file resumes after it.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Chunk <= 0 {
		o.Chunk = 500
	}
	if o.Chunk > 1000 {
		return nil, fmt.Errorf("chunk size %d is over the server's 1000", o.Chunk)
	}
	if o.Window <= 0 {
		o.Window = 4
	}
	if o.Every <= 0 {
		o.Every = 200 * time.Millisecond
	}
	// Before the file is read through: a large one takes a while.
	if err := notTheInput(o.Rejects, o.File); err != nil {
		return nil, err
	}
	named := o.Session != ""
	total, digest, blankRows, err := scan(ctx, o.Stop, o.File)
	if err != nil {
		return nil, err
	}
	if o.Session == "" {
		base := strings.TrimSuffix(filepath.Base(o.File), filepath.Ext(o.File))
		named := digest
		if blankRows {
			// arrearsctl before 28 November 2026 numbered rows of empty
			// cells as records; a session it began on such a file would
			// resume at a number that now means a later row. Another
			// name starts afresh: records already synced come back
			// UNCHANGED.
			sum := sha256.Sum256([]byte(digest + "/blank rows skipped"))
			named = hex.EncodeToString(sum[:])
		}
		o.Session = sanitize(base) + "-" + named[:12]
	}
	rep := &Report{Session: o.Session, Total: total, Outcomes: map[string]int64{}, Lines: map[int64]int{}}

	rejects, err := lockRejects(o.Rejects)
	if err != nil {
		return nil, err // before the session was opened: nothing to report
	}
	if o.held != nil {
		rejects.held = o.held
	}
	rejects.csv = strings.EqualFold(filepath.Ext(o.File), ".csv")
	defer rejects.close()

	parent := ctx
	ctx, cancel := context.WithCancel(metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+o.Token))
	defer cancel()
	interrupted := func(err error) error {
		if parent.Err() != nil {
			return parent.Err()
		}
		return err
	}
	stream, err := arrearsv1.NewSyncServiceClient(o.Conn).SyncPayables(ctx, grpc.MaxCallRecvMsgSize(MaxAnswerBytes))
	if err != nil {
		return rep, interrupted(err)
	}
	if err := stream.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Open{
		Open: &arrearsv1.SyncOpen{Session: o.Session, Debtor: o.Debtor}}}); err != nil && !errors.Is(err, io.EOF) {
		return rep, interrupted(err)
	}
	// io.EOF from Send is a stream the server ended at once (refusing the
	// key, or the key check UNAVAILABLE): Recv gives its status, which
	// says whether to wait and try again.
	opened, err := stream.Recv()
	if err != nil {
		// A stream made on a connection to the server carries its peer:
		// the server was reached, and its refusal is its answer.
		_, rep.reached = peer.FromContext(stream.Context())
		return rep, interrupted(err)
	}
	rep.opened = true
	rep.ResumeAfter = opened.GetOpened().GetResumeAfter()
	// The check names the record it was taken at: a chunk applied by a
	// server that keeps none (one of an older release, in a rolling
	// upgrade) moves the session on and leaves the check of an earlier
	// record, which still says whether the records up to it are this
	// file's.
	checkAt, checkSum := parseResumeCheck(opened.GetOpened().GetResumeCheck())
	if checkAt > rep.ResumeAfter {
		checkAt = 0 // not a check of this session's records
	}
	rep.Acknowledged = rep.ResumeAfter
	if rep.ResumeAfter > total {
		// The session is ahead of the file: it was another file (a
		// session named with -session outlives the file it began with).
		return rep, fmt.Errorf("%w: session %s has acknowledged %d records, more than the %d in %s: is it the file the session began with?",
			ErrNotTheFile, o.Session, rep.ResumeAfter, total, o.File)
	}

	// Before the rejects file is touched: a file refused here leaves it
	// as it was (another file's rejections written into it would be kept
	// by its own session's next run).
	if checkAt > 0 {
		if err := checkPrefix(o.File, checkAt, checkSum); err != nil {
			return rep, fmt.Errorf("%w: %s: %w; sync it under a new session (without -session, one is named after the file), where records the ledger holds already come back UNCHANGED; nothing was sent",
				ErrNotTheFile, o.File, err)
		}
	}
	if err := rejects.start(rep.ResumeAfter); err != nil {
		return rep, err
	}
	rep.RejectedBefore = int64(len(rejects.held))
	// listKept adds the server's rejections up to through that the run
	// does not hold yet.
	listKept := func(through int64) error {
		n, err := recoverRejections(ctx, arrearsv1.NewSyncServiceClient(o.Conn), o.Debtor+"/syncSessions/"+o.Session, through, rejects)
		switch {
		case errors.Is(err, errNoRejectionList):
			if o.Progress != nil {
				fmt.Fprintln(o.Progress, "the server keeps no rejected records: rejections in answers an earlier run did not receive cannot be listed")
			}
		case err != nil:
			return err
		}
		rep.Recovered += n
		rep.RejectedBefore += n
		return nil
	}
	if rep.ResumeAfter > 0 {
		if err := listKept(rep.ResumeAfter); err != nil {
			return rep, interrupted(err)
		}
	}
	if o.Progress != nil && rep.ResumeAfter > 0 {
		fmt.Fprintf(o.Progress, "resuming session %s after record %d of %d\n", o.Session, rep.ResumeAfter, total)
		// Named after the file, the session is this file's; named by
		// hand, it may have been another's.
		switch {
		case named && checkAt == 0:
			fmt.Fprintf(o.Progress, "warning: the server gave no check of session %s's records that arrearsctl reads (a server or arrearsctl of an earlier release, or another client, took its last chunk): the records up to %d are skipped by position, unchecked against those it took\n", o.Session, rep.ResumeAfter)
		case named && checkAt < rep.ResumeAfter:
			fmt.Fprintf(o.Progress, "warning: session %s's check covers its records up to %d (a server of an earlier release took the chunks after): records %d to %d are skipped by position, unchecked against those it took\n", o.Session, checkAt, checkAt+1, rep.ResumeAfter)
		}
	}

	start := time.Now()
	window := make(chan struct{}, o.Window)
	var mu sync.Mutex
	// reject records a rejected record; mu held. A rejection that cannot
	// be written ends the run: it would be lost, as nothing re-sends it.
	reject := func(r *arrearsv1.RecordResult, line int) {
		rep.Outcomes["REJECTED"]++
		// The 100 first in the file: the file's own refusals come at
		// once, the server's as their chunks are answered.
		rep.Rejected = append(rep.Rejected, r)
		if line > 0 {
			rep.Lines[r.Sequence] = line
		}
		if len(rep.Rejected) > 100 {
			slices.SortFunc(rep.Rejected, bySequence)
			delete(rep.Lines, rep.Rejected[100].Sequence)
			rep.Rejected = rep.Rejected[:100]
		}
		if err := rejects.write(r); err != nil {
			cancel()
		}
	}
	// lines are the file's lines of the records in flight, by sequence.
	lines := map[int64]int{}
	recvErr := make(chan error, 1)
	go func() {
		for {
			resp, err := stream.Recv()
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				} else {
					cancel() // unblock the sender
				}
				recvErr <- err
				return
			}
			c := resp.GetChunk()
			mu.Lock()
			rep.Acknowledged = c.AcknowledgedSequence
			for _, r := range c.Results {
				if r.Outcome == "REJECTED" {
					reject(r, lines[r.Sequence])
				} else {
					rep.Outcomes[r.Outcome]++
				}
				delete(lines, r.Sequence)
			}
			mu.Unlock()
			<-window
		}
	}()
	stopProgress := o.progress(rep, &mu, start)

	stopped := false
	sendErr := func() error {
		r, err := openRecords(o.File)
		if err != nil {
			return err
		}
		defer r.Close()
		var chunk []*arrearsv1.PayableRecord
		// chain is the check of the records read so far; lastSeq and
		// lastSum its value at the chunk's last record, made text once,
		// as the chunk is sent.
		chain := newResumeChain()
		chain.add(r.header, nil)
		var lastSeq int64
		var lastSum [sha256.Size]byte
		size, payments := 0, 0
		flush := func() error {
			if len(chunk) == 0 {
				return nil
			}
			size, payments = 0, 0
			select {
			case <-o.Stop: // before the window, which may have room too
				stopped = true
				return nil
			default:
			}
			select {
			case window <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			case <-o.Stop:
				stopped = true
				return nil
			}
			err := stream.Send(&arrearsv1.SyncPayablesRequest{Kind: &arrearsv1.SyncPayablesRequest_Chunk{Chunk: &arrearsv1.PayableChunk{Records: chunk, ResumeCheck: fmt.Sprintf("%d:%x", lastSeq, lastSum)}}})
			chunk = nil
			return err
		}
		for seq := int64(1); !stopped; seq++ {
			// Asked between records, not only as a chunk is sent: a long
			// stretch of unreadable or already acknowledged rows sends
			// none.
			select {
			case <-o.Stop:
				stopped = true
				continue
			default:
			}
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			var row *rowError
			if err != nil && !errors.As(err, &row) {
				return fmt.Errorf("%s record %d: %w", o.File, seq, err)
			}
			chain.add(r.rawCells, r.rawLine)
			if row == nil {
				if n := proto.Size(rec); n > maxRecordBytes {
					row = &rowError{field: "record", docRef: rec.GetDocumentRef(),
						err: fmt.Errorf("%d bytes, over the %d a record may take", n, maxRecordBytes)}
				}
			}
			if row != nil {
				// Not sent: the others go on, as the server treats a
				// bad record; its number is left out of the sequence.
				field := row.field
				if field == "" {
					field = "record"
				}
				res := &arrearsv1.RecordResult{Sequence: seq, DocumentRef: row.docRef, Outcome: "REJECTED",
					Problems: []*arrearsv1.RecordProblem{{Field: field, Description: row.err.Error()}}}
				mu.Lock()
				switch {
				case seq > rep.ResumeAfter:
					reject(res, r.recLine)
				case !named && !rejects.held[seq]:
					// An earlier run's, its line lost (the rejects file
					// removed, or none kept): never sent, so the server
					// cannot list it, but the file says it again. Not
					// under a -session named by hand, which resumes by
					// position in what may be another file: its rows up
					// to there are not the ones sent.
					if err := rejects.write(res); err != nil {
						cancel()
					}
					rep.Reread++
					rep.RejectedBefore++
				}
				mu.Unlock()
				continue
			}
			if seq <= rep.ResumeAfter {
				continue
			}
			rec.Sequence = seq
			// The server takes at most maxChunkPayments payments in a
			// chunk: a record that would take it past goes in the next.
			if payments+len(rec.Payments) > maxChunkPayments {
				if err := flush(); err != nil {
					return err
				}
				if stopped {
					continue // not sent: the loop ends
				}
			}
			payments += len(rec.Payments)
			chunk = append(chunk, rec)
			lastSeq, lastSum = seq, chain.sum
			mu.Lock()
			lines[seq] = r.recLine
			mu.Unlock()
			if size += proto.Size(rec); len(chunk) == o.Chunk || size >= maxChunkBytes {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := flush(); err != nil {
			return err
		}
		if stopped {
			// The chunks in flight are answered, then the stream ends.
			return stream.CloseSend()
		}
		// The records sent are those the session was named after: a file
		// rewritten since the count would resume wrongly on a rerun.
		if got := hex.EncodeToString(r.hash.Sum(nil)); got != digest {
			return fmt.Errorf("%s changed while it was being sent; rerun once it is complete", o.File)
		}
		return stream.CloseSend()
	}()
	if sendErr != nil {
		cancel()
	}
	err = <-recvErr
	mu.Lock()
	rep.Done = err == nil && sendErr == nil && parent.Err() == nil && !stopped
	rep.Ahead = 0
	for seq := range rejects.held {
		if seq > rep.Acknowledged {
			rep.Ahead++
		}
	}
	mu.Unlock()
	stopProgress()
	rep.Elapsed = time.Since(start)
	if rep.Outcomes["DUPLICATE"] > 0 && parent.Err() == nil && rejects.err == nil {
		// Records an earlier connection's chunk took as this run began:
		// their answers went to that connection.
		if rerr := listKept(rep.Acknowledged); rerr != nil && err == nil {
			err = rerr
		}
	}
	switch {
	case parent.Err() != nil:
		return rep, parent.Err() // interrupted: what was acknowledged stays
	case rejects.err != nil:
		return rep, fmt.Errorf("writing the rejected records: %w", rejects.err)
	case err == nil && sendErr == nil && stopped:
		return rep, ErrStopped
	case sendErr != nil && !errors.Is(sendErr, context.Canceled) && !isStreamEnd(sendErr):
		return rep, sendErr // a local failure (the file), which cancelled the stream
	case err != nil:
		return rep, err
	}
	return rep, sendErr
}

// rejectsFile is where a run writes its rejected records, one JSON line
// each; without a file it writes nothing, and only keeps count.
type rejectsFile struct {
	f   *os.File
	w   *bufio.Writer
	err error
	// held are the sequences of the rejections known: kept from
	// earlier runs, listed by the server, or written by this run.
	held   map[int64]bool
	stream bool // not a regular file: only written
	// csv names the fields of the server's rejections as the CSV columns
	// do (csvField), as the file's own refusals are named.
	csv bool
}

// notTheInput refuses a rejects file that is the file being synced (by
// name or through a link): the run would truncate it, and with it every
// record not yet sent.
func notTheInput(rejects, input string) error {
	if rejects == "" {
		return nil
	}
	rf, err := os.Stat(rejects)
	if err != nil {
		return nil // not there yet: created, so not the input
	}
	if in, err := os.Stat(input); err == nil && os.SameFile(rf, in) {
		return fmt.Errorf("the rejected records' file %s is the file being synced; name another with -rejects", rejects)
	}
	return nil
}

// errLocked is the rejects file held by another run.
var errLocked = errors.New("locked")

// lockRejects opens the rejects file and locks it for the run: a second
// run of the same file at once (an overlapping nightly job) would resume
// from the same point, truncate the file under the first and write over
// its lines, and is refused instead. The lock is taken before the session
// is opened, so the run holding it is the only one to read the resume
// point and rewrite the file after it.
func lockRejects(path string) (*rejectsFile, error) {
	if path == "" {
		return &rejectsFile{held: map[int64]bool{}}, nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("the rejected records' file: %w", err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		// A device or a pipe (-rejects /dev/stderr): written as it is,
		// neither locked (all runs share /dev/null) nor truncated.
		return &rejectsFile{f: f, w: bufio.NewWriter(f), stream: true, held: map[int64]bool{}}, nil
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			return nil, fmt.Errorf("%s is in use by another run of this sync; wait for it to end, or name another file with -rejects", path)
		}
		return nil, fmt.Errorf("locking the rejected records' file: %w", err)
	}
	return &rejectsFile{f: f, held: map[int64]bool{}}, nil
}

// start readies the locked file for a run resumed after resumeAfter (0: a
// fresh session). A resumed session keeps the rejections of the records
// it will not read again, those at or before resumeAfter, and drops the
// rest: the run reads those records again and rejects them again, so each
// is listed once. A fresh session starts the file afresh.
func (r *rejectsFile) start(resumeAfter int64) error {
	// The records after the resume point are read, sent and answered
	// again: their rejections are this run's.
	for seq := range r.held {
		if seq > resumeAfter {
			delete(r.held, seq)
		}
	}
	if r.f == nil || r.stream {
		return nil
	}
	var keep []byte
	if resumeAfter > 0 {
		old, err := io.ReadAll(r.f)
		if err != nil {
			return fmt.Errorf("the rejected records' file: %w", err)
		}
		for line := range bytes.Lines(old) {
			var res arrearsv1.RecordResult
			if protojson.Unmarshal(line, &res) == nil && res.Sequence > 0 && res.Sequence <= resumeAfter {
				keep = append(keep, line...)
				r.held[res.Sequence] = true
			}
		}
	}
	if err := r.f.Truncate(0); err != nil {
		return fmt.Errorf("the rejected records' file: %w", err)
	}
	if _, err := r.f.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("the rejected records' file: %w", err)
	}
	r.w = bufio.NewWriter(r.f)
	r.w.Write(keep)
	if err := r.w.Flush(); err != nil {
		return fmt.Errorf("the rejected records' file: %w", err)
	}
	return nil
}

// errNoRejectionList is a server that keeps no rejections.
var errNoRejectionList = errors.New("the server keeps no rejected records")

// recoverRejections asks the server for the session's rejections at or
// before through (the resume point, or the run's last acknowledgement) and
// writes to the file those it does not hold: the rejections in answers no
// run received (killed, or cut off after the server committed), which the
// session has moved past. It returns how many it found; with no file,
// every one the server lists is counted, as no earlier run's report can be
// read back.
func recoverRejections(ctx context.Context, client arrearsv1.SyncServiceClient, session string, through int64, rejects *rejectsFile) (int64, error) {
	var found int64
	token := ""
	for limited := 0; ; {
		resp, err := client.ListSyncRejections(ctx, &arrearsv1.ListSyncRejectionsRequest{Parent: session, PageSize: 500, PageToken: token})
		if status.Code(err) == codes.ResourceExhausted && limited < 20 {
			// Over the key's rate limit: wait as the server says, and ask
			// for the same page again.
			limited++
			if err := sleep(ctx, retryDelay(err)); err != nil {
				return found, err
			}
			continue
		}
		if status.Code(err) == codes.Unimplemented {
			return found, errNoRejectionList // a server older than this client
		}
		if err != nil {
			return found, fmt.Errorf("listing the session's rejected records: %w", err)
		}
		for _, r := range resp.Rejections {
			if r.Sequence > through || rejects.held[r.Sequence] {
				continue
			}
			if err := rejects.write(r); err != nil {
				return found, fmt.Errorf("writing the rejected records: %w", err)
			}
			found++
		}
		if token = resp.NextPageToken; token == "" {
			return found, nil
		}
	}
}

// retryDelay is the wait a RESOURCE_EXHAUSTED answer asks for (its
// RetryInfo), a second without one.
func retryDelay(err error) time.Duration {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay().AsDuration() > 0 {
			return min(ri.GetRetryDelay().AsDuration(), time.Minute)
		}
	}
	return time.Second
}

// sleep waits d, or less if ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// write appends one rejection and flushes it: a run killed a moment later
// keeps it.
func (r *rejectsFile) write(res *arrearsv1.RecordResult) error {
	if res.Sequence > 0 {
		r.held[res.Sequence] = true
	}
	if r.csv {
		for _, p := range res.Problems {
			p.Field = csvField(p.Field)
		}
	}
	if r.f == nil || r.err != nil {
		return r.err
	}
	out, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(res)
	if err == nil {
		r.w.Write(out)
		r.w.WriteByte('\n')
		err = r.w.Flush()
	}
	r.err = err
	return err
}

func (r *rejectsFile) close() {
	if r.f != nil {
		r.f.Close()
	}
}

// isStreamEnd reports an error of Send on a stream the server has ended:
// Recv has the reason.
func isStreamEnd(err error) bool { return errors.Is(err, io.EOF) || status.Code(err) != codes.Unknown }

// progress draws done/total and records per second until stopped.
func (o Options) progress(rep *Report, mu *sync.Mutex, start time.Time) func() {
	if o.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	drawn := 0 // the width of the line on the terminal
	logEvery := cmp.Or(o.LogEvery, 30*time.Second)
	logged := time.Now()
	draw := func(final bool) {
		mu.Lock()
		acked, total := rep.Acknowledged, rep.Total
		if rep.Done {
			acked = total
		}
		mu.Unlock()
		rate := float64(acked-rep.ResumeAfter) / max(time.Since(start).Seconds(), 1e-9)
		frac := 1.0
		if total > 0 {
			frac = min(max(float64(acked)/float64(total), 0), 1)
		}
		// The bar takes what the figures leave of the terminal's width
		// less one column: a line as wide as the terminal wraps, and each
		// redraw (\r) then left a new line behind, five a second. On a
		// terminal too narrow for the figures and a bar of 10, the
		// figures alone.
		columns := 80
		if o.Columns != nil {
			if c := o.Columns(); c > 0 {
				columns = c
			}
		}
		figures := fmt.Sprintf(" %5.1f%%  %d/%d records  %.0f records/s", 100*frac, acked, total, rate)
		line := strings.TrimSpace(figures)
		if width := columns - 1 - 2 - len(figures); width >= 10 {
			filled := int(frac * float64(width))
			line = "[" + strings.Repeat("=", filled) + strings.Repeat(" ", width-filled) + "]" + figures
		} else if o.Terminal && len(line) >= columns {
			line = line[:max(columns-1, 1)] // ASCII: cut as much as wraps
		}
		switch {
		case o.Terminal:
			io.WriteString(o.Progress, redraw(line, &drawn))
			if final {
				fmt.Fprintln(o.Progress)
			}
		case final || time.Since(logged) >= logEvery:
			logged = time.Now()
			fmt.Fprintln(o.Progress, line)
		}
	}
	go func() {
		defer wg.Done()
		t := time.NewTicker(o.Every)
		defer t.Stop()
		for {
			select {
			case <-done:
				draw(true)
				return
			case <-t.C:
				draw(false)
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// redraw rewrites a terminal's line, whose width *drawn keeps, with line:
// spaces cover what a longer line before it left ("9876 records/s" after
// "10234 records/s" would read "records/ss").
func redraw(line string, drawn *int) string {
	n := utf8.RuneCountInString(line)
	pad := max(*drawn-n, 0)
	*drawn = n
	return "\r" + line + strings.Repeat(" ", pad)
}

func sanitize(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
		}
	}
	out := strings.TrimLeft(b.String(), "-_.")
	if out == "" || len(out) > 100 {
		return "sync"
	}
	return out // the server wants a letter or digit first
}

// resumeChain is the check of a file's records up to one: a hash chain of
// the rows as read (CSV cells, NDJSON lines, readable or not), what a
// session keeps with its acknowledged sequence (PayableChunk.resume_check)
// so that a rerun can tell the records it would skip are those the session
// took. The rows, not only their references: a row corrected since, or one
// refused then and fixed since, would otherwise be skipped unsent by a
// session named by hand, which resumes by position. A file grown since
// resumes as before.
type resumeChain struct {
	h   hash.Hash
	sum [sha256.Size]byte // zero before the first record
}

func newResumeChain() *resumeChain { return &resumeChain{h: sha256.New()} }

// unitSeparator ends each cell in the chain: "a,b" is not "ab,".
var unitSeparator = []byte{0x1f}

// add takes in the next record's row: its CSV cells, or its NDJSON line.
func (c *resumeChain) add(cells []string, line []byte) {
	c.h.Reset()
	c.h.Write(c.sum[:])
	for _, cell := range cells {
		io.WriteString(c.h, cell)
		c.h.Write(unitSeparator)
	}
	c.h.Write(line)
	c.h.Sum(c.sum[:0])
}

func (c *resumeChain) String() string { return hex.EncodeToString(c.sum[:]) }

// checkPrefix compares the chain of the file's records up to record at
// with sum, the session's check there. Resumed by position, another file,
// or rows changed since, would have those records skipped, unsent,
// without a word.
func checkPrefix(path string, at int64, sum string) error {
	r, err := openRecords(path)
	if err != nil {
		return err
	}
	defer r.Close()
	chain := newResumeChain()
	chain.add(r.header, nil)
	for seq := int64(1); seq <= at; seq++ {
		_, err := r.Next()
		var row *rowError
		switch {
		case errors.Is(err, io.EOF):
			return fmt.Errorf("it has fewer than the %d records the session took", at)
		case err != nil && !errors.As(err, &row):
			return err
		}
		chain.add(r.rawCells, r.rawLine)
	}
	if chain.String() != sum {
		return fmt.Errorf("its first %d records are not those the session acknowledged: another file, or rows changed since (corrected, or fixed after a rejection), which a session resumed by position would skip unsent", at)
	}
	return nil
}

// parseResumeCheck reads a session's check, "SEQ:HASH", the chain's value
// at record SEQ; at is 0 for none, or one in another form (a client of
// another kind may have written it).
func parseResumeCheck(check string) (at int64, sum string) {
	n, sum, ok := strings.Cut(check, ":")
	if !ok {
		return 0, ""
	}
	at, err := strconv.ParseInt(n, 10, 64)
	if err != nil || at <= 0 || len(sum) != 2*sha256.Size {
		return 0, ""
	}
	return at, sum
}

// scan counts the records of a file and digests its content, so the
// default session name follows the file: the same file resumes, another
// starts afresh. blankRows says whether rows of empty cells were skipped.
func scan(ctx context.Context, stop <-chan struct{}, path string) (n int64, digest string, blankRows bool, err error) {
	r, err := openRecords(path)
	if err != nil {
		return 0, "", false, err
	}
	defer r.Close()
	for {
		if n%4096 == 0 {
			// Ctrl-C while a large file is counted.
			if ctx.Err() != nil {
				return 0, "", false, ctx.Err()
			}
			select {
			case <-stop:
				return 0, "", false, ErrStopped
			default:
			}
		}
		var row *rowError
		if _, err := r.Next(); errors.Is(err, io.EOF) {
			break
		} else if errors.Is(err, errNotUTF8) {
			// The whole file, not the row: a GBK export's rows that
			// happen to be valid UTF-8 would be synced, garbled for good.
			return 0, "", false, fmt.Errorf("%s record %d, %w; nothing was sent: the file is in another encoding (GBK? Latin-1?): save it as UTF-8 and run again", path, n+1, err)
		} else if err != nil && (!errors.As(err, &row) || errors.Is(err, errLineBreak)) {
			return 0, "", false, fmt.Errorf("%s record %d: %w", path, n+1, err)
		}
		n++ // a record that cannot be read keeps its place (and number)
	}
	return n, hex.EncodeToString(r.hash.Sum(nil)), r.blankRows > 0, nil
}

// recordReader reads PayableRecords from CSV (with a header row) or NDJSON.
type recordReader struct {
	f      *os.File
	hash   interface{ Sum([]byte) []byte }
	csv    *csv.Reader
	cols   map[string]int
	layout csvLayout // cols by column
	width  int       // the cells a row must have: up to the last named column
	named  []bool    // whether the header names each column, up to width
	limit  *rowLimit // beneath csv
	lines  *bufio.Reader
	lineNo int // the NDJSON lines read, blank ones too
	// recLine is the line of the file the last record read starts on.
	recLine int
	// header is a CSV's column names as read (lower-cased): the resume
	// check begins with it, so that headings swapped over the same cells
	// are another file.
	header []string
	// rawCells (CSV) or rawLine (NDJSON) is the last record's row as read,
	// until the next read.
	rawCells []string
	rawLine  []byte
	isJSON   bool
	// blankRows counts the rows of empty cells skipped.
	blankRows int64
}

func openRecords(path string) (*recordReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	// A byte-order mark, as spreadsheets write one, is not part of the
	// first value: the CSV reader would keep the quotes of a quoted
	// first column name after it.
	src := bufio.NewReaderSize(io.TeeReader(f, h), 1<<20)
	if bom, err := src.Peek(3); err == nil && string(bom) == "\ufeff" {
		src.Discard(3)
	} else if bom, err := src.Peek(2); err == nil && (string(bom) == "\xff\xfe" || string(bom) == "\xfe\xff" || bom[0] == 0 || bom[1] == 0) {
		// A byte-order mark, or a NUL beside the first letter: UTF-16.
		f.Close()
		return nil, fmt.Errorf("%s is UTF-16 text (as Excel saves \"Unicode text\"): save it as \"CSV UTF-8\" (or NDJSON in UTF-8)", path)
	}
	r := &recordReader{f: f, hash: h}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".csv":
		r.limit = &rowLimit{src: src}
		r.csv = csv.NewReader(r.limit)
		r.csv.ReuseRecord = true
		r.csv.LazyQuotes = true // a stray quote in a name, as spreadsheets write them
		header, err := r.csv.Read()
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: reading the header row: %w", path, err)
		}
		r.cols = map[string]int{}
		for i, c := range header {
			if !utf8.ValidString(c) {
				f.Close()
				return nil, fmt.Errorf("%s: the header row is %w; nothing was sent: the file is in another encoding (GBK? Latin-1?): save it as UTF-8", path, errNotUTF8)
			}
			// "Amount" is amount: spreadsheets capitalise headings.
			c = strings.ToLower(strings.TrimSpace(c))
			r.header = append(r.header, c)
			switch {
			case c == "":
				// A column with no name, as a spreadsheet's used range
				// leaves past the last one: its cells must be blank.
				continue
			case !knownColumns[c]:
				f.Close()
				hint := ""
				switch {
				case strings.Contains(c, "\r"):
					hint = ": its lines seem to end in a carriage return alone (old Mac text): save the file with CRLF or LF line ends"
				case len(header) > 1:
				case strings.Contains(c, ";"), strings.Contains(c, "\t"):
					hint = ": the columns seem separated by semicolons or tabs, and arrearsctl reads comma-separated CSV: save the file as \"CSV UTF-8 (comma delimited)\""
				}
				return nil, fmt.Errorf("%s: unknown column %q (known: %s)%s", path, c, strings.Join(columnList, ", "), hint)
			}
			if _, twice := r.cols[c]; twice {
				f.Close()
				return nil, fmt.Errorf("%s: column %q appears twice in the header: which one holds the value?", path, c)
			}
			r.cols[c] = i
		}
		// A row must reach the last named column; cells past it, in a
		// column with no name or none at all, may be missing or blank.
		for _, i := range r.cols {
			r.width = max(r.width, i+1)
		}
		r.layout = layoutOf(r.cols)
		r.named = make([]bool, r.width)
		for _, i := range r.cols {
			r.named[i] = true
		}
		// Rows wider than the header are read whole and checked below:
		// cells past it must be blank (a trailing delimiter), a value
		// there is refused with the row.
		r.csv.FieldsPerRecord = -1
		for _, need := range []string{"document_ref", "creditor", "currency", "amount", "issued_on"} {
			if _, ok := r.cols[need]; !ok {
				f.Close()
				return nil, fmt.Errorf("%s: missing column %q", path, need)
			}
		}
	case ".ndjson", ".jsonl":
		r.isJSON = true
		r.lines = src
	default:
		f.Close()
		return nil, fmt.Errorf("%s: want a .csv, .ndjson or .jsonl file", path)
	}
	return r, nil
}

func (r *recordReader) Close() error { return r.f.Close() }

// documentRefOf is the document reference of an NDJSON line protojson
// refused, if plain JSON can read it there, for the rejection to name it.
func documentRefOf(line []byte) string {
	var rec struct {
		Camel string `json:"documentRef"`
		Snake string `json:"document_ref"`
	}
	if json.Unmarshal(line, &rec) != nil {
		return ""
	}
	return strings.TrimSpace(cmp.Or(rec.Camel, rec.Snake))
}

// Next returns the next record, or io.EOF.
func (r *recordReader) Next() (*arrearsv1.PayableRecord, error) {
	r.rawCells, r.rawLine = nil, nil
	if r.isJSON {
		for {
			line, err := r.line()
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			if err != nil {
				return nil, err
			}
			r.lineNo++
			r.recLine = r.lineNo
			if line == nil {
				return nil, &rowError{field: "record", err: fmt.Errorf("line %d: over %d bytes", r.lineNo, maxLineBytes)}
			}
			// A byte-order mark may start any line of files joined
			// together (cat a.ndjson b.ndjson).
			if line = bytes.TrimSpace(bytes.TrimPrefix(line, []byte("\ufeff"))); len(line) == 0 {
				continue
			}
			r.rawLine = line
			if !utf8.Valid(line) {
				return nil, &rowError{err: fmt.Errorf("line %d: %w", r.lineNo, errNotUTF8)}
			}
			var rec arrearsv1.PayableRecord
			if err := protojson.Unmarshal(line, &rec); err != nil {
				// Named as the server names a record's fields, by the
				// file's line, in plain words; protojson's own counts
				// lines within this one.
				row := &rowError{docRef: documentRefOf(line), err: fmt.Errorf("line %d: %s", r.lineNo, protojsonerr.Plain(err.Error()))}
				if path, ok := protojsonerr.FieldPath(line, err.Error()); ok {
					row.field = path
				}
				return nil, row
			}
			return &rec, nil
		}
	}
	read := func() ([]string, error) {
		r.limit.start = r.csv.InputOffset()
		return r.csv.Read()
	}
	row, err := read()
	// Rows of empty cells (",,,," as spreadsheets leave below the data,
	// or a line of spaces) are skipped as blank lines are: they are no
	// payable, and sending them would reject one for each.
	for (err == nil || errors.Is(err, csv.ErrFieldCount)) && blank(row) {
		r.blankRows++
		row, err = read()
	}
	if err != nil && !errors.Is(err, csv.ErrFieldCount) {
		return nil, err
	}
	if len(row) > 0 {
		r.recLine, _ = r.csv.FieldPos(0)
	}
	r.rawCells = row
	if err == nil && len(row) < r.width {
		err = fmt.Errorf("%d cells, the header names columns up to the %dth", len(row), r.width)
	}
	// A short or long row (ErrFieldCount) comes with its cells; the
	// reader goes on with the next row.
	docRef := ""
	if i := r.layout[colDocumentRef]; i >= 0 && i < len(row) && utf8.ValidString(row[i]) {
		docRef = strings.TrimSpace(row[i])
	}
	for i, cell := range row {
		if !utf8.ValidString(cell) {
			line, _ := r.csv.FieldPos(i)
			return nil, &rowError{field: r.colName(i), docRef: docRef, err: fmt.Errorf("line %d, column %s: %w", line, r.colName(i), errNotUTF8)}
		}
	}
	for i, cell := range row {
		if strings.ContainsAny(cell, "\r\n") {
			// No column holds a line break. One here is most likely a
			// quote opened and never closed, which took the rows after
			// it into this value: scan stops the run on it, before
			// anything is sent, rather than sync the file less those
			// rows under one rejection.
			line, _ := r.csv.FieldPos(i)
			// Counted up to its last line: a quote left open to the end
			// takes in the file's last line break too.
			in := strings.TrimRight(cell, "\r\n")
			breaks := strings.Count(in, "\n")
			if breaks == 0 {
				breaks = strings.Count(in, "\r")
			}
			// A value ending in its only break (a quote closed on the
			// next line) runs over that one.
			breaks = max(breaks, 1)
			return nil, &rowError{field: r.colName(i), docRef: docRef, err: fmt.Errorf(
				"the value from line %d runs over %d line break(s), to line %d: %w", line, breaks, line+breaks, errLineBreak)}
		}
	}
	if err != nil {
		return nil, &rowError{docRef: docRef, err: err}
	}
	for i, cell := range row {
		if (i >= len(r.named) || !r.named[i]) && strings.TrimSpace(cell) != "" {
			return nil, &rowError{docRef: docRef, err: fmt.Errorf("%q in column %d, which the header does not name", cell, i+1)}
		}
	}
	rec, err := fromCSV(&r.layout, row)
	if err != nil {
		row := &rowError{docRef: docRef, err: err}
		var fe *fieldError
		if errors.As(err, &fe) {
			row.field, row.err = fe.field, fe.err
		}
		return nil, row
	}
	return rec, nil
}

// blank reports whether a CSV row's cells are all empty or spaces.
func blank(row []string) bool {
	for _, cell := range row {
		if strings.TrimSpace(cell) != "" {
			return false
		}
	}
	return true
}

// rowLimit is the CSV reader's source, which fails once one row has taken
// more than maxLineBytes: a quote opened and never closed makes every line
// after it part of one value, which the reader holds whole, so a large
// file would be read into memory. Nothing after such a row can be told
// apart, so the error ends the run (in the count, before anything is
// sent). start is the row's offset, set before each row is read; the
// reader's own buffer reads ahead of it by a few kilobytes at most.
type rowLimit struct {
	src         io.Reader
	read, start int64
}

// errLineBreak is a CSV value holding a line break.
var errLineBreak = errors.New("a quote opened and never closed? No column holds a line break, and the lines it took in would go unsent; nothing was sent: close the quote (or remove the line breaks) and run again")

// errRunOn is a CSV row over maxLineBytes.
var errRunOn = fmt.Errorf("a row runs on for over %d MB: a quote opened and never closed? Nothing after it can be read; close the quote and run again", maxLineBytes>>20)

func (l *rowLimit) Read(p []byte) (int, error) {
	if l.read-l.start > maxLineBytes {
		return 0, errRunOn
	}
	n, err := l.src.Read(p)
	l.read += int64(n)
	return n, err
}

// maxLineBytes bounds an NDJSON line: one longer is reported as a bad
// record and skipped, not read whole.
const maxLineBytes = 16 << 20

// line reads the next NDJSON line without its end; a line over
// maxLineBytes is skipped and returned as nil, an empty one as empty.
func (r *recordReader) line() ([]byte, error) {
	var out []byte
	long := false
	for {
		part, err := r.lines.ReadSlice('\n')
		if !long {
			if len(out)+len(part) > maxLineBytes {
				long, out = true, nil
			} else {
				out = append(out, part...)
			}
		}
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && (len(out) > 0 || long):
			// The last line, with no line end.
		case err != nil:
			return nil, err
		}
		if long {
			return nil, nil
		}
		if out == nil {
			out = []byte{}
		}
		return out, nil
	}
}

// colName is the CSV column at index i.
func (r *recordReader) colName(i int) string {
	for name, j := range r.cols {
		if j == i {
			return name
		}
	}
	return "record"
}

// rowError is one record that cannot be read (a bad date or amount, a short
// row, another encoding): the run reports it, naming the column where it
// can, and goes on with the others.
type rowError struct {
	field, docRef string
	err           error
}

func (e *rowError) Error() string { return e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }

// fieldError is a bad value in one column.
type fieldError struct {
	field string
	err   error
}

func (e *fieldError) Error() string { return e.field + ": " + e.err.Error() }

// errNotUTF8 is a record in another encoding: a GBK export, say, which the
// server could not even be sent.
var errNotUTF8 = errors.New("not UTF-8 text")

// decimalRE is the decimal forms parseAmount takes besides the plain one:
// a sign, a missing integer part. Not an exponent: "1.23457E+11" is how a
// spreadsheet shows 123,456,789,012.34 in a narrow column, rounded, and
// read as written it would record 123,457,000,000.00.
var decimalRE = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)$`)

// MaxAnswerBytes is the largest message arrearsd sends, and so the largest
// a client must take: a chunk's answer names up to a hundred problems of
// each rejected record, about 8 MB for a chunk of such records, past
// gRPC's default 4 MB receive bound. Refusing it would lose the answer of
// a chunk the server has committed: the rerun resumes after it.
const MaxAnswerBytes = 64 << 20

// maxRecordBytes is the most one record may take: a chunk is sent early
// once it reaches maxChunkBytes, so a chunk holding it stays under the
// server's default 4 MB message limit.
const maxRecordBytes = 1 << 20

// maxChunkPayments is the server's bound on the payments of a chunk's
// records (service.MaxSyncChunkPayments; servers before 29 November 2026
// had none).
const maxChunkPayments = 10000

// maxChunkBytes sends a chunk early when its records grow large (many
// payments each), well under the server's default 4 MB message limit.
const maxChunkBytes = 2 << 20

// The CSV columns: one invoice per row, with at most one payment. A row's
// values are read by these indices into the header's layout (a map lookup
// by name for each of a row's values was a sixth of the client's CPU).
const (
	colDocumentRef = iota
	colCreditor
	colCreditorName
	colCreditorSizeClass
	colCreditorRegionCode
	colContractRef
	colCurrency
	colAmount
	colContractSignedOn
	colIssuedOn
	colReceivedOn
	colDeliveredOn
	colAgreedTermDays
	colAgreedDueDate
	colPaymentReference
	colPaymentAmount
	colPaidOn
	colPaymentReversedOn
	colPaymentReversalReason
	colCancelledOn
	colCancelReason
	numColumns
)

var columnNames = [numColumns]string{
	colDocumentRef: "document_ref", colCreditor: "creditor", colCreditorName: "creditor_name",
	colCreditorSizeClass: "creditor_size_class", colCreditorRegionCode: "creditor_region_code",
	colContractRef: "contract_ref", colCurrency: "currency", colAmount: "amount",
	colContractSignedOn: "contract_signed_on", colIssuedOn: "issued_on", colReceivedOn: "received_on",
	colDeliveredOn: "delivered_on", colAgreedTermDays: "agreed_term_days", colAgreedDueDate: "agreed_due_date",
	colPaymentReference: "payment_reference", colPaymentAmount: "payment_amount", colPaidOn: "paid_on",
	colPaymentReversedOn: "payment_reversed_on", colPaymentReversalReason: "payment_reversal_reason",
	colCancelledOn: "cancelled_on", colCancelReason: "cancel_reason",
}

var columnList = columnNames[:]

// csvLayout is where a file's header puts each column: -1 for one it lacks.
type csvLayout [numColumns]int

func layoutOf(cols map[string]int) csvLayout {
	var l csvLayout
	for i, name := range columnNames {
		if at, ok := cols[name]; ok {
			l[i] = at
		} else {
			l[i] = -1
		}
	}
	return l
}

var knownColumns = func() map[string]bool {
	m := map[string]bool{}
	for _, c := range columnList {
		m[c] = true
	}
	return m
}()

func fromCSV(layout *csvLayout, row []string) (*arrearsv1.PayableRecord, error) {
	get := func(c int) string {
		if i := layout[c]; i >= 0 && i < len(row) {
			return strings.TrimSpace(row[i])
		}
		return ""
	}
	var err error
	date := func(c int) *arrearsv1.Date {
		s := get(c)
		if s == "" || err != nil {
			return nil
		}
		d, e := civil.Parse(s)
		if e != nil {
			err = &fieldError{columnNames[c], dateHint(s, e)}
			return nil
		}
		return &arrearsv1.Date{Year: int32(d.Year), Month: int32(d.Month), Day: int32(d.Day)}
	}
	currency := money.CodeUpper(get(colCurrency))
	// Blank, an amount would reach the server as none, refused there as a
	// currency and an amount missing from a row that has its currency.
	if get(colAmount) == "" {
		return nil, &fieldError{"amount", errors.New("required: the invoice's amount")}
	}
	if get(colPaymentReference) != "" && get(colPaymentAmount) == "" {
		return nil, &fieldError{"payment_amount", errors.New("required with payment_reference")}
	}
	if get(colAmount) != "" || get(colPaymentAmount) != "" {
		// Named here, not as the amount that could not be read in it.
		if currency == "" {
			return nil, &fieldError{"currency", errors.New("required with an amount")}
		}
		if _, ok := money.LookupCurrency(currency); !ok {
			return nil, &fieldError{"currency", fmt.Errorf("%q is not an ISO 4217 currency code", get(colCurrency))}
		}
	}
	amount := func(c int) *arrearsv1.Money {
		s := get(c)
		if s == "" || err != nil {
			return nil
		}
		m, e := parseAmount(currency, s)
		if e != nil {
			err = &fieldError{columnNames[c], e}
		}
		return m
	}
	if c := get(colCreditor); c != "" && !strings.HasPrefix(c, "parties/") && !strings.Contains(c, ":") && !isUUID(c) {
		// The server would quote "parties/" and this, words the file
		// never held.
		return nil, &fieldError{"creditor", fmt.Errorf("%q is not JURISDICTION:REGISTRATION_ID (as CN: and the unified social credit code) nor a party name", c)}
	}
	rec := &arrearsv1.PayableRecord{
		DocumentRef: get(colDocumentRef), Creditor: creditorName(get(colCreditor)), CreditorName: get(colCreditorName),
		CreditorRegionCode: get(colCreditorRegionCode), ContractRef: get(colContractRef), Amount: amount(colAmount),
		ContractSignedOn: date(colContractSignedOn), IssuedOn: date(colIssuedOn), ReceivedOn: date(colReceivedOn),
		DeliveredOn: date(colDeliveredOn), AgreedDueDate: date(colAgreedDueDate),
		// The server refuses a reason without its date, naming the field.
		CancelledOn: date(colCancelledOn), CancelReason: get(colCancelReason),
	}
	if s := get(colCreditorSizeClass); s != "" {
		v, ok := arrearsv1.SizeClass_value["SIZE_CLASS_"+strings.ToUpper(s)]
		if !ok || v == 0 {
			// A typo would otherwise make the supplier one of no size.
			return nil, &fieldError{"creditor_size_class", fmt.Errorf("%q is not one of MICRO, SMALL, MEDIUM, LARGE", s)}
		}
		rec.CreditorSizeClass = arrearsv1.SizeClass(v)
	}
	if s := get(colAgreedTermDays); s != "" {
		n, e := strconv.ParseInt(s, 10, 32)
		switch {
		case errors.Is(e, strconv.ErrRange):
			return nil, &fieldError{"agreed_term_days", fmt.Errorf("%q is out of range for a number of days", s)}
		case e != nil:
			return nil, &fieldError{"agreed_term_days", fmt.Errorf("%q is not a whole number of days", s)}
		}
		rec.AgreedTermDays = int32(n)
	}
	if ref := get(colPaymentReference); ref != "" {
		rec.Payments = []*arrearsv1.PayablePayment{{Reference: ref, Amount: amount(colPaymentAmount), PaidOn: date(colPaidOn),
			ReversedOn: date(colPaymentReversedOn), ReversalReason: get(colPaymentReversalReason)}}
	} else if get(colPaymentAmount) != "" || get(colPaidOn) != "" || get(colPaymentReversedOn) != "" || get(colPaymentReversalReason) != "" {
		// A payment with no reference cannot be matched on a rerun, and
		// dropping it would leave the invoice unpaid without a word.
		return nil, &fieldError{"payment_reference", errors.New("required with payment_amount, paid_on or a reversal")}
	}
	return rec, err
}

// isUUID reports whether s is a party id as the API writes it.
func isUUID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// creditorName accepts "CN:9135..." as well as "parties/CN:9135...".
func creditorName(s string) string {
	if s == "" || strings.HasPrefix(s, "parties/") {
		return s
	}
	return "parties/" + s
}

// amountHint says why s is not an amount parseAmount reads, naming what
// spreadsheets and ERPs put in amounts most often.
func amountHint(s string) error {
	const form = "write amounts as plain decimals, such as 12500.00"
	switch {
	case exponentRE.MatchString(s):
		return fmt.Errorf("%q has an exponent, as a spreadsheet shows a large number in a narrow column (rounded): widen the column or format it as a number; %s", s, form)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.Is(unicode.Sc, r) }) >= 0:
		return fmt.Errorf("%q has a currency sign: the currency goes in the currency column; %s", s, form)
	case strings.IndexFunc(s, unicode.IsLetter) >= 0:
		return fmt.Errorf("%q has letters: a currency code goes in the currency column; %s", s, form)
	case strings.ContainsAny(s, ",' \u00a0\u202f"):
		return fmt.Errorf("%q has a thousands or decimal separator other than a point: %s", s, form)
	}
	return fmt.Errorf("%q is not a decimal amount written in full (no exponent, no fraction): %s", s, form)
}

// csvField names a field of a record the server refused as the CSV
// columns do ("payments[0].reversal_reason" is payment_reversal_reason):
// a CSV row holds one payment, and its columns name its fields.
func csvField(field string) string {
	switch field {
	case "amount.minor_units":
		return "amount"
	case "amount.currency_code", "payments[0].amount.currency_code":
		return "currency"
	case "payments[0].reference", "payments[0]":
		return "payment_reference"
	case "payments[0].amount.minor_units", "payments[0].amount":
		return "payment_amount"
	case "payments[0].paid_on":
		return "paid_on"
	case "payments[0].reversed_on":
		return "payment_reversed_on"
	case "payments[0].reversal_reason":
		return "payment_reversal_reason"
	}
	return field
}

// exponentRE is a number with an exponent, as spreadsheets show one.
var exponentRE = regexp.MustCompile(`^[+-]?[0-9]*\.?[0-9]+[eE][+-]?[0-9]+$`)

// dateHint says why s is not a date in civil.Parse's form, e, naming the
// forms spreadsheets write instead.
func dateHint(s string, e error) error {
	const form = "write dates as YYYY-MM-DD, such as 2025-07-01"
	switch {
	case len(s) == 5 && strings.Trim(s, "0123456789") == "":
		return fmt.Errorf("%q looks like a spreadsheet's day number: format the column as a date; %s", s, form)
	case strings.ContainsAny(s, "/."):
		return fmt.Errorf("%q is not in the form YYYY-MM-DD (and 01/07/2025 reads as 1 July or 7 January by locale): %s", s, form)
	case len(s) == 8 && strings.Trim(s, "0123456789") == "":
		return fmt.Errorf("%q has no dashes: %s", s, form)
	case strings.Count(s, "-") == 2 && len(s) < len("2025-07-01"):
		return fmt.Errorf("%q needs two digits for its month and day: %s", s, form)
	}
	return e
}

// parseAmount reads a decimal amount in major units ("1234.50") exactly,
// into minor units of the currency.
func parseAmount(currency, s string) (*arrearsv1.Money, error) {
	// The plain form ("1234.50") through money.Parse's integer arithmetic:
	// big.Rat was a quarter of the client's CPU in a large sync. A plus
	// sign or ".5" is read by big.Rat as before.
	if m, err := money.Parse(currency + " " + s); err == nil {
		return &arrearsv1.Money{CurrencyCode: m.Currency, MinorUnits: m.Minor}, nil
	}
	cur, ok := money.LookupCurrency(currency)
	if !ok {
		return nil, fmt.Errorf("unknown currency %q", currency)
	}
	if !decimalRE.MatchString(s) {
		// big.Rat also reads fractions ("10/4") and other bases ("0x1F").
		return nil, amountHint(s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("%q is not a decimal amount", s)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(cur.Digits)), nil)))
	if !r.IsInt() {
		return nil, fmt.Errorf("%q has more than %d decimal places for %s", s, cur.Digits, currency)
	}
	if !r.Num().IsInt64() {
		return nil, fmt.Errorf("%q is too large", s)
	}
	return &arrearsv1.Money{CurrencyCode: currency, MinorUnits: r.Num().Int64()}, nil
}
