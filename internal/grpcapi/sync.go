package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/metrics"
	"github.com/arrears/arrears/internal/protocheck"
	"github.com/arrears/arrears/internal/service"
)

// Sync implements arrearsv1.SyncServiceServer.
type Sync struct {
	arrearsv1.UnimplementedSyncServiceServer
	s *Server
	// IdleTimeout ends a SyncPayables stream that has waited this long for
	// its client with nothing of its own in flight (DefaultSyncIdle if 0):
	// a client that went away without closing would otherwise hold the
	// stream, its goroutines and a slot of its connection for good.
	IdleTimeout time.Duration
	// Stopping, closed as the server begins to stop, drains the streams:
	// each takes no further chunk, answers those it took, and ends with
	// UNAVAILABLE, so its client resumes the session (on another replica,
	// or this one restarted) instead of being cut at the graceful stop's
	// end with a chunk half done and its answer lost.
	Stopping <-chan struct{}
	// Metrics, when set, counts the chunks answered and their records'
	// outcomes.
	Metrics *metrics.Registry
	// working holds a token for each chunk being built and applied, across
	// every stream and batch call: a chunk converts to many times the
	// memory of its message (a payment to some kilobytes of rows and
	// revisions), and each stream's own window bounds only its own.
	working chan struct{}
}

// MaxChunksWorking bounds the sync chunks built and applied at once across
// the server; more wait, their streams unread (the client is slowed).
const MaxChunksWorking = 4

// take waits for a chunk's token; false when ctx ended first.
func (a *Sync) take(ctx context.Context) bool {
	select {
	case a.working <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

// give returns a chunk's token.
func (a *Sync) give() { <-a.working }

// chunkPayments refuses a chunk whose records carry more payments than
// service.MaxSyncChunkPayments in all (a record past one invoice's bound
// is refused alone, its payments not built): the message limit alone let
// a chunk of a few records carry 140,000 payments, some 200 MB once built.
func chunkPayments(v *ledger.ValidationError, field string, recs []*arrearsv1.PayableRecord) {
	n := 0
	for _, r := range recs {
		if len(r.Payments) <= ledger.MaxFactsPerKind {
			n += len(r.Payments)
		}
	}
	if n > service.MaxSyncChunkPayments {
		v.Add(field, "at most %d payments across a chunk's records, got %d: send fewer records per chunk", service.MaxSyncChunkPayments, n)
	}
}

// counted reports a chunk answered to the metrics.
func (a *Sync) counted(rs []service.SyncResult) {
	if a.Metrics == nil {
		return
	}
	outcomes := make([]string, len(rs))
	for i, r := range rs {
		outcomes[i] = string(r.Outcome)
	}
	a.Metrics.SyncChunk(outcomes)
}

// errClosed is a message that came as its stream was closed (idle or
// draining): not applied, and answered by the closing's own error.
var errClosed = errors.New("stream closed")

// errStopping ends a stream drained as the server stops.
var errStopping = status.Error(codes.Unavailable, "the server is stopping: every chunk it took was answered; open the session again to resume")

// DefaultSyncIdle is how long a sync stream waits for a silent client.
const DefaultSyncIdle = 10 * time.Minute

// NewSync returns the bulk sync service.
func NewSync(s *Server) *Sync { return &Sync{s: s, working: make(chan struct{}, MaxChunksWorking)} }

// idleTimeout is the stream's bound on a silent client.
func (a *Sync) idleTimeout() time.Duration {
	if a.IdleTimeout > 0 {
		return a.IdleTimeout
	}
	return DefaultSyncIdle
}

// errIdle ends a stream whose client fell silent.
func errIdle(d time.Duration) error {
	return status.Errorf(codes.DeadlineExceeded, "no message for %v with nothing in flight: the stream is closed; open the session again to resume", d)
}

// errUnread is a stream closed because its client left an answer unread
// for d: gRPC's flow control held the answer back all that time.
func errUnread(d time.Duration) error {
	return status.Errorf(codes.DeadlineExceeded, "an answer waited %v for the client to read it: the stream is closed; open the session again to resume", d)
}

// idleWatch tells when a stream's client has been silent too long: it
// counts only the time spent waiting for a message while nothing of the
// stream is in flight (a client waiting for its answers is not idle). Its
// state moves under one lock, so that closing the stream and taking a
// message are one or the other: a message that arrives as the stream is
// closed is not applied (the client resumes from the acknowledgement).
type idleWatch struct {
	mu      sync.Mutex
	waiting bool      // the stream waits for a message
	busy    int       // chunks taken and not yet answered
	since   time.Time // the last message or answer
	closed  bool      // the stream was closed as idle, or is draining
	// sending is when the answer being sent began to wait for the client
	// to take it (zero while none is).
	sending time.Time
	// settled is closed once a draining stream has no chunk in flight.
	settled chan struct{}
}

// wait marks the stream waiting for its client.
func (w *idleWatch) wait() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting = true
}

// got marks a message received; false if the stream was closed as idle
// meanwhile, and the message is not to be applied.
func (w *idleWatch) got() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.waiting, w.since = false, time.Now()
	return !w.closed
}

// take counts a chunk in flight; false if the stream was closed as idle.
func (w *idleWatch) take() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	w.busy++
	return true
}

// answered counts a chunk answered (or given up).
func (w *idleWatch) answered() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.busy--
	w.since = time.Now()
	if w.busy == 0 && w.settled != nil {
		close(w.settled)
		w.settled = nil
	}
}

// drain takes no further message (got and take then refuse it) and
// returns a channel closed once the chunks in flight are answered.
func (w *idleWatch) drain() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	ch := make(chan struct{})
	if w.busy == 0 {
		close(ch)
	} else {
		w.settled = ch
	}
	return ch
}

// send marks an answer as being sent (true) or sent (false).
func (w *idleWatch) send(on bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sending = time.Time{}
	if on {
		w.sending = time.Now()
	}
}

// unread closes the stream if an answer has waited at least d for its
// client to read it, and reports whether it did: a client that sends and
// never reads would otherwise hold the stream, and its chunks' answers,
// for as long as it lives.
func (w *idleWatch) unread(d time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.sending.IsZero() && time.Since(w.sending) >= d {
		w.closed = true
		return true
	}
	return false
}

// close closes the stream as idle if it has waited for its client for at
// least d with none of its chunks in flight, and reports whether it did.
func (w *idleWatch) close(d time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.waiting && w.busy == 0 && time.Since(w.since) >= d {
		w.closed = true
	}
	return w.closed
}

// recvOpen is the stream's first Recv, which ends with errIdle once the
// client has been silent for the stream's idle timeout, and with
// errStopping as the server stops.
func (a *Sync) recvOpen(stream arrearsv1.SyncService_SyncPayablesServer) (*arrearsv1.SyncPayablesRequest, error) {
	type got struct {
		msg *arrearsv1.SyncPayablesRequest
		err error
	}
	ch := make(chan got, 1)
	go func() {
		msg, err := stream.Recv()
		ch <- got{msg, err}
	}()
	t := time.NewTimer(a.idleTimeout())
	defer t.Stop()
	select {
	case g := <-ch:
		return g.msg, g.err
	case <-t.C:
		// Returning ends the stream, which ends the Recv above.
		return nil, errIdle(a.idleTimeout())
	case <-a.Stopping:
		return nil, errStopping
	}
}

func sessionName(debtor uuid.UUID, session string) string {
	return partyName(debtor) + "/syncSessions/" + session
}

// recordFromProto converts one record; decoding problems stay with the
// record, so a bad record is rejected alone.
func recordFromProto(r *arrearsv1.PayableRecord) service.SyncRecord {
	var v ledger.ValidationError
	inv := invoiceFromProto(&v, &arrearsv1.Invoice{
		DocumentRef: r.DocumentRef, ContractRef: r.ContractRef, Amount: r.Amount, ContractSignedOn: r.ContractSignedOn,
		IssuedOn: r.IssuedOn, ReceivedOn: r.ReceivedOn, DeliveredOn: r.DeliveredOn, AcceptanceRequired: r.AcceptanceRequired,
		AcceptancePeriodDays: r.AcceptancePeriodDays, AcceptancePassedOn: r.AcceptancePassedOn,
		SettlementConfirmedOn: r.SettlementConfirmedOn, AgreedTermDays: r.AgreedTermDays, AgreedDueDate: r.AgreedDueDate,
		AgreedInterestRate: r.AgreedInterestRate, CreditorSizeClassAtSigning: r.CreditorSizeClassAtSigning,
	})
	rec := service.SyncRecord{
		Sequence: r.Sequence, Invoice: inv, Creditor: parsePartyName(&v, "creditor", r.Creditor),
		CreditorName: strings.TrimSpace(r.CreditorName), CreditorRegion: strings.TrimSpace(r.CreditorRegionCode),
		CreditorSize: ledger.SizeClass(enumName(r.CreditorSizeClass.String(), "SIZE_CLASS_")),
		CancelledOn:  dateFromProto(&v, "cancelled_on", r.CancelledOn), CancelReason: strings.TrimSpace(r.CancelReason),
	}
	// A reason is for a date: sent alone, it would be read as no reversal or
	// cancellation at all, and the record answered UNCHANGED (or CREATED)
	// though the ERP meant one.
	if rec.CancelReason != "" && rec.CancelledOn.IsZero() && !v.Has("cancelled_on") {
		v.Add("cancel_reason", "is given without cancelled_on: send both to cancel the invoice")
	}
	payments := r.Payments
	if n := len(payments); n > ledger.MaxFactsPerKind {
		// Refused alone, its payments not built.
		v.Add("payments", "%d payments; the ledger keeps at most %d for one invoice", n, ledger.MaxFactsPerKind)
		payments = nil
	}
	for i, p := range payments {
		amount := moneyFromProto(p.Amount)
		field := func(f string) string { return "payments[" + itoa(i) + "]." + f }
		rec.Payments = append(rec.Payments, service.SyncPayment{
			Payment: ledger.Payment{Amount: amount.Minor, Currency: amount.Currency, PaidOn: dateFromProto(&v, field("paid_on"), p.PaidOn),
				Reference: strings.TrimSpace(p.Reference), MaturityOn: dateFromProto(&v, field("maturity_on"), p.MaturityOn),
				Instrument: ledger.PaymentInstrument(enumName(p.Instrument.String(), "PAYMENT_INSTRUMENT_"))},
			ReversedOn: dateFromProto(&v, field("reversed_on"), p.ReversedOn), ReversalReason: strings.TrimSpace(p.ReversalReason),
		})
		// An empty date ({}) is no date, as a missing one.
		if sp := rec.Payments[i]; sp.ReversalReason != "" && sp.ReversedOn.IsZero() && !v.Has(field("reversed_on")) {
			v.Add(field("reversal_reason"), "is given without reversed_on: send both to reverse the payment")
		}
	}
	if field := protocheck.NUL(r.ProtoReflect()); field != "" {
		v.Add(field, "%s", protocheck.NULProblem)
	}
	rec.Problems = v
	return rec
}

func itoa(i int) string { return strconv.Itoa(i) }

func resultsToProto(rs []service.SyncResult, acked int64) *arrearsv1.ChunkResult {
	out := &arrearsv1.ChunkResult{AcknowledgedSequence: acked}
	for _, r := range rs {
		out.Results = append(out.Results, resultToProto(r))
	}
	return out
}

func resultToProto(r service.SyncResult) *arrearsv1.RecordResult {
	pr := &arrearsv1.RecordResult{Sequence: r.Sequence, DocumentRef: r.DocumentRef, Outcome: string(r.Outcome), Changed: r.Changed}
	if r.InvoiceID != uuid.Nil {
		pr.Invoice = invoiceName(r.InvoiceID)
	}
	for _, v := range r.Violations {
		pr.Problems = append(pr.Problems, &arrearsv1.RecordProblem{Field: v.Field, Description: v.Description})
	}
	return pr
}

func (a *Sync) SyncPayables(stream arrearsv1.SyncService_SyncPayablesServer) error {
	const method = "SyncPayables"
	ctx := stream.Context()
	first, err := a.recvOpen(stream)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return a.s.fail(ctx, method, "", badField("open", "the stream must start with a SyncOpen message"))
		}
		return err
	}
	open := first.GetOpen()
	if open == nil {
		return a.s.fail(ctx, method, "", badField("open", "the stream must start with a SyncOpen message"))
	}
	var v ledger.ValidationError
	ref := parsePartyName(&v, "open.debtor", open.Debtor)
	service.CheckSession(&v, "open.session", open.Session)
	if err := v.Err(); err != nil {
		return a.s.fail(ctx, method, "", err)
	}
	debtor, resume, err := a.s.svc.OpenSync(ctx, ref, open.Session)
	if err != nil {
		return a.s.fail(ctx, method, open.Debtor, err)
	}
	if err := stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Opened{Opened: &arrearsv1.SyncOpened{
		Session: sessionName(debtor.ID, open.Session), ResumeAfter: resume.After, ResumeCheck: resume.Check}}}); err != nil {
		return err
	}
	return a.syncChunks(stream, a.s.svc.NewSyncStream(debtor.ID, open.Session))
}

// panicked is a panic recovered in a goroutine of a stream, as an internal
// error carrying where it happened and its stack for the log.
func panicked(where string, r any) error {
	return fmt.Errorf("panic %s: %v\n%s", where, r, debug.Stack())
}

// syncChunks applies the stream's chunks as they arrive, up to SyncDepth of
// them at once, and answers each in order as it commits. The receiving
// stops while that many wait for an answer, so a client that sends faster
// than the database writes is held back by gRPC's flow control rather than
// buffered here; the first chunk that fails ends the stream.
func (a *Sync) syncChunks(stream arrearsv1.SyncService_SyncPayablesServer, sync *service.SyncStream) error {
	const method = "SyncPayables"
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	type pending struct {
		done    chan struct{}
		results []service.SyncResult
		acked   int64
		err     error
	}
	depth := a.s.svc.SyncDepth()
	// A slot is taken before a chunk starts and given back once it is
	// answered: at most depth chunks are in flight.
	slots, queue := make(chan struct{}, depth), make(chan *pending, depth)
	// failed has the first failure as it happens; sent, the outcome once
	// every chunk taken is answered.
	failed, sent := make(chan error, 1), make(chan error, 1)
	idle := idleWatch{since: time.Now()}
	go func() {
		// The answers, in the order the chunks came; after a failure, the
		// chunks still in flight are waited for (they fail too) but not
		// answered.
		var first error
		defer func() {
			// No interceptor recovers this goroutine: a panic would end
			// the process, not the stream.
			if r := recover(); r != nil {
				first = a.s.fail(ctx, method, "", panicked("answering a sync chunk", r))
				select {
				case failed <- first:
				default:
				}
				cancel()
				sent <- first
			}
		}()
		for p := range queue {
			<-p.done
			<-slots
			switch {
			case first != nil:
			case p.err != nil:
				first = a.s.fail(ctx, method, "", p.err)
				failed <- first
				cancel()
			default:
				idle.send(true)
				first = stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Chunk{Chunk: resultsToProto(p.results, p.acked)}})
				idle.send(false)
				if first != nil {
					failed <- first
					cancel()
				} else {
					a.counted(p.results)
				}
			}
			idle.answered()
		}
		sent <- first
	}()
	receive := func() error {
		for {
			idle.wait()
			msg, err := stream.Recv()
			if !idle.got() && !errors.Is(err, io.EOF) {
				return errClosed // closed as idle or draining: the closing answers the client
			}
			if errors.Is(err, io.EOF) {
				return nil // the client has finished: a clean end, even as the stream closes
			}
			if err != nil {
				return err
			}
			if ctx.Err() != nil {
				return nil // a chunk failed: the sender reports it
			}
			// A stream lives long: the key is checked again for every
			// chunk, so revocation and expiry stop a running sync at once.
			if err := a.s.reauthenticate(ctx); err != nil {
				return err
			}
			chunk := msg.GetChunk()
			if chunk == nil {
				return a.s.fail(ctx, method, "", badField("chunk", "after SyncOpen, every message must be a chunk"))
			}
			// Refused before anything is built from it: a message of
			// empty records converts to far more memory than it takes.
			if n := len(chunk.Records); n > service.MaxSyncChunk {
				return a.s.fail(ctx, method, "", badField("chunk.records", "at most %d records per chunk, got %d", service.MaxSyncChunk, n))
			}
			var v ledger.ValidationError
			service.CheckResumeCheck(&v, "chunk.resume_check", chunk.ResumeCheck)
			chunkPayments(&v, "chunk.records", chunk.Records)
			if v.Err() != nil {
				return a.s.fail(ctx, method, "", v.Err())
			}
			if !idle.take() {
				return errClosed // closed as it came: not applied
			}
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				idle.answered()
				return nil
			}
			// Built only with a token of the server's: the stream waits
			// unread meanwhile.
			if !a.take(ctx) {
				<-slots
				idle.answered()
				return nil
			}
			recs := make([]service.SyncRecord, len(chunk.Records))
			for i, r := range chunk.Records {
				recs[i] = recordFromProto(r)
			}
			// The chunk takes its place in the order here, in the order
			// received, not in whichever order the goroutines start.
			call := sync.Reserve(recs).WithResumeCheck(chunk.ResumeCheck)
			p := &pending{done: make(chan struct{})}
			go func() {
				defer a.give()
				p.results, p.acked, p.err = call.Run(ctx)
				close(p.done)
			}()
			queue <- p // never blocks: it holds no more than the slots
		}
	}
	received := make(chan error, 1)
	go func() {
		var err error
		defer func() {
			close(queue)
			received <- err
		}()
		// As the answering goroutine: a panic fails the stream only.
		defer func() {
			if r := recover(); r != nil {
				err = a.s.fail(ctx, method, "", panicked("reading a sync chunk", r))
			}
		}()
		err = receive()
	}()
	d := a.idleTimeout()
	tick := time.NewTicker(d / 8)
	defer tick.Stop()
	stopping := a.Stopping
	var settled <-chan struct{} // once draining
	// ended is the stream's end once the receiving has ended: the chunks
	// already taken are answered (or fail) first, whatever ended it.
	ended := func(recvErr error) error {
		if err := <-sent; err != nil {
			return err
		}
		switch {
		case errors.Is(recvErr, errClosed) && settled != nil:
			return errStopping
		case errors.Is(recvErr, errClosed):
			return errIdle(d)
		}
		return recvErr
	}
	for {
		select {
		case err := <-failed:
			// Returning ends the stream, which unblocks a receive waiting
			// on a client that waits for this answer.
			return err
		case recvErr := <-received:
			return ended(recvErr)
		case <-stopping:
			stopping, settled = nil, idle.drain()
		case <-settled:
			// Every chunk taken is answered. A chunk that failed, or a
			// client that finished, as it drained says how the stream
			// ends; else returning ends it, and the receive waiting on
			// the client.
			select {
			case err := <-failed:
				return err
			case recvErr := <-received:
				return ended(recvErr)
			default:
			}
			cancel()
			return errStopping
		case <-tick.C:
			// The answer waiting is of a chunk committed: the session's
			// acknowledgement says where to resume.
			if idle.unread(d) {
				cancel()
				return errUnread(d)
			}
			// Every chunk taken is answered, so returning loses
			// nothing: the session's acknowledgement says where to
			// resume.
			if settled == nil && idle.close(d) {
				cancel()
				return errIdle(d)
			}
		}
	}
}

func (a *Sync) SyncPayablesBatch(ctx context.Context, req *arrearsv1.SyncPayablesBatchRequest) (*arrearsv1.SyncPayablesBatchResponse, error) {
	const method = "SyncPayablesBatch"
	var v ledger.ValidationError
	ref := parsePartyName(&v, "debtor", req.Debtor)
	if len(req.Records) > service.MaxSyncChunk {
		v.Add("records", "at most %d records per call, got %d: use the SyncPayables stream for more", service.MaxSyncChunk, len(req.Records))
	}
	chunkPayments(&v, "records", req.Records)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	var debtorID uuid.UUID
	if req.Session != "" {
		debtor, _, err := a.s.svc.OpenSync(ctx, ref, req.Session)
		if err != nil {
			return nil, a.s.fail(ctx, method, req.Debtor, err)
		}
		debtorID = debtor.ID
	} else {
		debtor, err := a.s.svc.SyncDebtor(ctx, ref)
		if err != nil {
			return nil, a.s.fail(ctx, method, req.Debtor, err)
		}
		debtorID = debtor.ID
	}
	if !a.take(ctx) {
		return nil, a.s.fail(ctx, method, "", ctx.Err())
	}
	defer a.give()
	recs := make([]service.SyncRecord, len(req.Records))
	for i, r := range req.Records {
		recs[i] = recordFromProto(r)
	}
	results, acked, err := a.s.svc.SyncChunk(ctx, debtorID, req.Session, recs)
	if err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	a.counted(results)
	return &arrearsv1.SyncPayablesBatchResponse{Result: resultsToProto(results, acked)}, nil
}

func (a *Sync) GetSyncSession(ctx context.Context, req *arrearsv1.GetSyncSessionRequest) (*arrearsv1.GetSyncSessionResponse, error) {
	const method = "GetSyncSession"
	var v ledger.ValidationError
	ref, session := parseSessionName(&v, "name", req.Name)
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	debtor, resume, err := a.s.svc.OpenSync(ctx, ref, session)
	if err != nil {
		return nil, a.s.fail(ctx, method, req.Name, err)
	}
	rejected, err := a.s.svc.SyncRejectedCount(ctx, debtor.ID, session)
	if err != nil {
		return nil, a.s.fail(ctx, method, req.Name, err)
	}
	return &arrearsv1.GetSyncSessionResponse{Name: sessionName(debtor.ID, session), ResumeAfter: resume.After, RejectedRecords: rejected,
		ResumeCheck: resume.Check}, nil
}

// parseSessionName reads "parties/{debtor}/syncSessions/{session}", the
// debtor in either form.
func parseSessionName(v *ledger.ValidationError, field, name string) (service.PartyRef, string) {
	party, session, ok := strings.Cut(name, "/syncSessions/")
	ref := parsePartyName(v, field, party)
	if !ok || session == "" {
		v.Add(field, "%q is not of the form parties/{debtor}/syncSessions/{session}", name)
	} else {
		service.CheckSession(v, field, session)
	}
	return ref, session
}

// ListSyncRejections pages by sequence, carried in the token as
// ListRevisions carries a revision number (seqPosition).
func (a *Sync) ListSyncRejections(ctx context.Context, req *arrearsv1.ListSyncRejectionsRequest) (*arrearsv1.ListSyncRejectionsResponse, error) {
	const method = "ListSyncRejections"
	var v ledger.ValidationError
	ref, session := parseSessionName(&v, "parent", req.Parent)
	size := pageSize(&v, req.PageSize)
	sc := scope(ctx, method, req.Parent, "")
	var after int64
	if req.PageToken != "" {
		pos, err := a.s.tokens.Decode(sc, req.PageToken)
		if err != nil {
			v.Add("page_token", "%s", err)
		}
		after = positionSeq(pos)
	}
	if err := v.Err(); err != nil {
		return nil, a.s.fail(ctx, method, "", err)
	}
	results, err := a.s.svc.SyncRejections(ctx, ref, session, after, size+1)
	if err != nil {
		return nil, a.s.fail(ctx, method, req.Parent, err)
	}
	rows := make([]*service.SyncResult, len(results))
	for i := range results {
		rows[i] = &results[i]
	}
	rows, next := nextToken(a.s, sc, rows, size, func(r *service.SyncResult) uuid.UUID { return seqPosition(r.Sequence) })
	out := &arrearsv1.ListSyncRejectionsResponse{NextPageToken: next}
	for _, r := range rows {
		out.Rejections = append(out.Rejections, resultToProto(*r))
	}
	return out, nil
}
