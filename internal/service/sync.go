package service

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/store"
)

// SyncRecord is one payable as the debtor's ERP holds it: an invoice keyed
// by the debtor's document reference, its supplier named by registration
// number, and its payments keyed by the debtor's payment references.
type SyncRecord struct {
	Sequence int64
	Invoice  *ledger.Invoice
	Creditor PartyRef
	// For a supplier not yet in the ledger, created unverified.
	CreditorName   string
	CreditorSize   ledger.SizeClass
	CreditorRegion string
	CancelledOn    civil.Date
	CancelReason   string
	Payments       []SyncPayment
	// Problems found while decoding the record.
	Problems ledger.ValidationError
}

// SyncPayment is a payment of a synced invoice; a reversal is explicit.
type SyncPayment struct {
	Payment        ledger.Payment
	ReversedOn     civil.Date
	ReversalReason string
}

// SyncOutcome is what became of a record.
type SyncOutcome string

const (
	SyncCreated   SyncOutcome = "CREATED"
	SyncUpdated   SyncOutcome = "UPDATED"
	SyncUnchanged SyncOutcome = "UNCHANGED"
	SyncRejected  SyncOutcome = "REJECTED"
	// SyncDuplicate is a record whose sequence the session acknowledged
	// already: an earlier chunk took it (applied or rejected it), and it
	// is neither compared nor applied again. A resumed client sends none;
	// one that does learns that nothing of it was looked at.
	SyncDuplicate SyncOutcome = "DUPLICATE"
)

// SyncResult reports one record.
type SyncResult struct {
	Sequence    int64
	DocumentRef string
	Outcome     SyncOutcome
	InvoiceID   uuid.UUID
	// Changed lists the invoice fields an update changed, and payments
	// recorded or reversed.
	Changed    []string
	Violations []ledger.FieldViolation
}

// MaxSyncChunk bounds the records of one chunk (and of a batch call), so no
// transaction or message grows with the size of a sync.
const MaxSyncChunk = 1000

// MaxSyncChunkPayments bounds the payments of one chunk's records in all
// (a record of more, past one invoice's bound, is refused by itself): the
// memory a chunk takes to apply grows with them, some kilobytes each.
const MaxSyncChunkPayments = ledger.MaxFactsPerKind

var sessionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// CheckSession checks a sync session's name, reported as field: the
// request names it in its own place (open.session on the stream, within
// name for GetSyncSession).
func CheckSession(v *ledger.ValidationError, field, session string) {
	if !sessionRE.MatchString(session) {
		v.Add(field, "the session must be 1-128 ASCII letters, digits, dots, dashes or underscores, starting with a letter or digit")
	}
}

// SyncDebtor resolves the debtor a sync names: one the caller acts for.
// Seeing a party (a counterparty, say) is not syncing for it, and is
// answered as for a party not seen, NOT_FOUND, so that a batch with a
// session and one without answer alike and another debtor's existence
// does not leak.
func (l *Ledger) SyncDebtor(ctx context.Context, debtorRef PartyRef) (*ledger.Party, error) {
	debtor, err := visibleParty(ctx, l.store, debtorRef)
	if err != nil {
		return nil, err
	}
	if !mayActFor(ctx, debtor.ID) {
		return nil, ledger.ErrNotFound
	}
	return debtor, nil
}

// SyncResume is where a sync session stands: the highest sequence
// committed, after which the client resumes, and the client's own check of
// its records up to there (PayableChunk.resume_check), if it sent one.
type SyncResume struct {
	After int64
	Check string
}

// OpenSync starts or resumes a named sync session of a debtor the caller
// acts for, and returns the debtor and where the session stands.
func (l *Ledger) OpenSync(ctx context.Context, debtorRef PartyRef, session string) (*ledger.Party, SyncResume, error) {
	var v ledger.ValidationError
	CheckSession(&v, "session", session)
	if err := v.Err(); err != nil {
		return nil, SyncResume{}, err
	}
	debtor, err := l.SyncDebtor(ctx, debtorRef)
	if err != nil {
		return nil, SyncResume{}, err
	}
	s, err := l.store.GetSyncSession(ctx, debtor.ID, session)
	if errors.Is(err, ledger.ErrNotFound) {
		return debtor, SyncResume{}, nil
	}
	if err != nil {
		return nil, SyncResume{}, err
	}
	return debtor, SyncResume{After: s.AckedSeq, Check: s.ResumeCheck}, nil
}

// MaxResumeCheck is the longest PayableChunk.resume_check kept.
const MaxResumeCheck = 128

// CheckResumeCheck checks a chunk's resume_check, reported as field: text
// the stores keep (no NUL), at most MaxResumeCheck bytes.
func CheckResumeCheck(v *ledger.ValidationError, field, check string) {
	if len(check) > MaxResumeCheck || strings.ContainsRune(check, 0) {
		v.Add(field, "at most %d bytes, without NUL", MaxResumeCheck)
	}
}

// SyncRejections lists up to limit of the records a session of a debtor
// the caller acts for rejected, after sequence after.
func (l *Ledger) SyncRejections(ctx context.Context, debtorRef PartyRef, session string, after int64, limit int) ([]SyncResult, error) {
	debtor, _, err := l.OpenSync(ctx, debtorRef, session)
	if err != nil {
		return nil, err
	}
	rs, err := l.store.ListSyncRejections(ctx, debtor.ID, session, after, limit)
	if err != nil {
		return nil, err
	}
	out := make([]SyncResult, len(rs))
	for i, r := range rs {
		out[i] = SyncResult{Sequence: r.Sequence, DocumentRef: r.DocumentRef, Outcome: SyncRejected, Violations: r.Problems}
	}
	return out, nil
}

// SyncRejectedCount counts the records a session of a debtor rejected.
func (l *Ledger) SyncRejectedCount(ctx context.Context, debtorID uuid.UUID, session string) (int64, error) {
	return l.store.CountSyncRejections(ctx, debtorID, session)
}

// SyncChunk applies a chunk of records in one transaction and returns a
// result per record and the session's acknowledged sequence. A record that
// fails is rolled back alone (a savepoint) and reported with its reasons;
// the others commit. Records at or below the acknowledged sequence were
// applied before and are reported unchanged. An empty session means a
// one-off batch with no resume point.
func (l *Ledger) SyncChunk(ctx context.Context, debtorID uuid.UUID, session string, recs []SyncRecord) ([]SyncResult, int64, error) {
	return l.syncChunk(ctx, debtorID, session, recs, "", nil, nil)
}

// SyncStream applies the chunks of one sync stream in the order they are
// given, letting a chunk's work overlap the one before it where the store
// takes concurrent writers: a stream then keeps both the database and this
// process busy instead of each waiting on the other. The caller bounds how
// many chunks it has in flight (SyncDepth).
type SyncStream struct {
	l       *Ledger
	debtor  uuid.UUID
	session string
	mu      sync.Mutex
	last    *chunkTicket // the chunk started last
}

// chunkTicket is a chunk in flight: written closes once it has made its
// writes (all but the session's, the audit events' and the summary nodes',
// made as it ends), done when its transaction has committed or failed.
type chunkTicket struct {
	written, done chan struct{}
	writtenOnce   sync.Once
	err           error
	// keys are the document and payment references of the chunk's
	// records: a chunk sharing one with the chunk before it in flight
	// waits for that one to end before it starts, since what it reads
	// first would be stale.
	keys map[string]bool
	// paymentKeys says keys holds a payment reference.
	paymentKeys bool
}

func newTicket() *chunkTicket {
	return &chunkTicket{written: make(chan struct{}), done: make(chan struct{})}
}

func (c *chunkTicket) markWritten() {
	if c != nil {
		c.writtenOnce.Do(func() { close(c.written) })
	}
}

// waitWritten waits until the chunk has made its writes (or ended), at
// most limit: the waiter holds a shared lock on the debtor's row by then.
func (c *chunkTicket) waitWritten(ctx context.Context, limit time.Duration) error {
	if c == nil {
		return nil
	}
	return await(ctx, c.written, limit, "the chunk before has not written")
}

// finish records how the chunk ended, releasing the chunks waiting on it.
func (c *chunkTicket) finish(err error) {
	c.err = err
	c.markWritten()
	close(c.done)
}

// await waits for ch to close, at most limit (0: no limit); past the limit
// the transaction waiting lets go (ledger.ErrConflict) and runs again.
func await(ctx context.Context, ch <-chan struct{}, limit time.Duration, what string) error {
	var expired <-chan time.Time
	if limit > 0 {
		t := time.NewTimer(limit)
		defer t.Stop()
		expired = t.C
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-expired:
		return fmt.Errorf("%w: %s", ledger.ErrConflict, what)
	}
}

// syncWaitLimit bounds how long a chunk that has done its work waits, its
// locks held, for the chunk before it to commit. A chunk starts writing only
// once the one before has made its writes, so the earlier never waits on
// the later's rows; but a third transaction could wait on the later one
// while the earlier waits on it, a cycle the database cannot see: past the
// limit the later one lets go and runs again once the earlier has ended.
const syncWaitLimit = 2 * time.Second

// NewSyncStream starts applying a stream of chunks for a debtor's session
// (OpenSync has checked the caller may).
func (l *Ledger) NewSyncStream(debtorID uuid.UUID, session string) *SyncStream {
	return &SyncStream{l: l, debtor: debtorID, session: session}
}

// SyncDepth is how many chunks of one stream may be in flight at once: two
// where the store takes concurrent writers (one working while the one
// before commits), else one.
func (l *Ledger) SyncDepth() int {
	if l.store.ConcurrentWriters() {
		return 2
	}
	return 1
}

// SyncChunkCall is a chunk that has its place in a stream's order.
type SyncChunkCall struct {
	s          *SyncStream
	recs       []SyncRecord
	check      string
	prev, me   *chunkTicket
	waitBefore bool
}

// WithResumeCheck gives the chunk the client's check of its records up to
// the chunk's last (PayableChunk.resume_check), kept with the session if
// the chunk moves its acknowledged sequence.
func (c *SyncChunkCall) WithResumeCheck(check string) *SyncChunkCall {
	c.check = check
	return c
}

// Reserve gives a chunk the next place in the stream's order. The chunks
// then run (Run) on any goroutines, overlapping as they may, and commit in
// that order; if one fails, those after it fail too.
func (s *SyncStream) Reserve(recs []SyncRecord) *SyncChunkCall {
	keys := make(map[string]bool, len(recs))
	paymentKeys := false
	for _, r := range recs {
		if r.Invoice != nil {
			keys["d:"+strings.TrimSpace(r.Invoice.DocumentRef)] = true
		}
		for _, p := range r.Payments {
			keys["p:"+strings.TrimSpace(p.Payment.Reference)] = true
			paymentKeys = true
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := &SyncChunkCall{s: s, recs: recs, prev: s.last, me: newTicket()}
	c.me.keys, c.me.paymentKeys = keys, paymentKeys
	// One writer at a time: a chunk begun alongside the one before would
	// hold the engine's write lock while waiting for it. A chunk naming a
	// record of the one before would read it before that one commits.
	c.waitBefore = !s.l.store.ConcurrentWriters()
	if p := c.prev; p != nil && !c.waitBefore {
		for k := range keys {
			if p.keys[k] {
				c.waitBefore = true
				break
			}
		}
	}
	s.last = c.me
	return c
}

// Run applies the chunk as SyncChunk does.
func (c *SyncChunkCall) Run(ctx context.Context) (_ []SyncResult, _ int64, err error) {
	prev, me := c.prev, c.me
	// A stream runs its chunks in goroutines of their own, which no
	// interceptor recovers: a panic here would end the process. It fails
	// this chunk instead (its transaction was rolled back), and through
	// its ticket the chunks after it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic applying a sync chunk: %v\n%s", r, debug.Stack())
			me.finish(err)
		}
	}()
	if c.waitBefore {
		if err := prev.wait(ctx, 0); err != nil {
			me.finish(err)
			return nil, 0, err
		}
		prev = nil
	}
	results, acked, err := c.s.l.syncChunk(ctx, c.s.debtor, c.s.session, c.recs, c.check, prev, me)
	me.finish(err)
	return results, acked, err
}

// Chunk reserves the chunk's place and runs it.
func (s *SyncStream) Chunk(ctx context.Context, recs []SyncRecord) ([]SyncResult, int64, error) {
	return s.Reserve(recs).Run(ctx)
}

// running reports whether the chunk has not ended yet (false for none).
func (c *chunkTicket) running() bool {
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return false
	default:
		return true
	}
}

// wait waits for the chunk to end, at most limit (0: no limit).
func (c *chunkTicket) wait(ctx context.Context, limit time.Duration) error {
	if c == nil {
		return nil
	}
	if err := await(ctx, c.done, limit, "the chunk before has not committed"); err != nil {
		return err
	}
	if c.err != nil {
		return fmt.Errorf("%w: the chunk before failed", ledger.ErrFailedPrecondition)
	}
	return nil
}

// syncChunk is SyncChunk as the chunk me after the chunk prev (nil: none).
// The first attempt reads, prepares and writes its own rows while prev
// writes, writes what another chunk may touch once prev has (syncFast
// says which), and waits for prev to commit only before the session's
// acknowledged sequence moves, which orders the commits; an attempt run
// again (a race lost, or the wait too long) waits for prev first, holding
// nothing.
func (l *Ledger) syncChunk(ctx context.Context, debtorID uuid.UUID, session string, recs []SyncRecord, check string, prev, me *chunkTicket) ([]SyncResult, int64, error) {
	if len(recs) > MaxSyncChunk {
		return nil, 0, ledger.Invalid("records", "at most %d records per chunk, got %d", MaxSyncChunk, len(recs))
	}
	if !mayActFor(ctx, debtorID) {
		return nil, 0, fmt.Errorf("%w: the debtor is not a party this key acts for", ledger.ErrPermissionDenied)
	}
	now := l.now()
	var results []SyncResult
	var acked int64
	attempt := 0
	// A rerun waits for the chunk before to commit first, before its
	// transaction begins (after whatever the caller asked to run then), and
	// outside the transaction's time limit (store.MaxTxDuration), which
	// bounds the whole ReadWriteTx call, reruns included: a wait inside it
	// for a chunk slower by half the limit left the rerun too little time,
	// and two heavy chunks in a row ended the stream DEADLINE_EXCEEDED.
	outer := store.BeforeRetry(ctx)
	streamCtx := ctx
	ctx = store.WithBeforeRetry(ctx, func(ctx context.Context) error {
		if outer != nil {
			if err := outer(ctx); err != nil {
				return err
			}
		}
		if prev.running() {
			return errPrevRunning
		}
		return prev.wait(ctx, 0)
	})
	var err error
	body := func(ctx context.Context, tx store.Tx) error {
		attempt++
		results = make([]SyncResult, len(recs))
		var sess *store.SyncSession
		if session != "" {
			s, err := tx.GetSyncSession(ctx, debtorID, session)
			switch {
			case errors.Is(err, ledger.ErrNotFound):
				s = &store.SyncSession{DebtorID: debtorID, Session: session, CreateTime: now}
			case err != nil:
				return err
			}
			sess = s
		}
		// Which records to apply: sequences above the acknowledged one,
		// increasing.
		last := int64(0)
		if sess != nil {
			last = sess.AckedSeq
		}
		var apply []int
		jurisdiction := "" // the debtor's, read for the first record refused early
		for i := range recs {
			r := &recs[i]
			results[i] = SyncResult{Sequence: r.Sequence, DocumentRef: r.Invoice.DocumentRef}
			switch {
			case sess != nil && r.Sequence <= 0:
				// Not a place in the session: without this it would pass for
				// a record acknowledged already, and never be applied.
				results[i].Outcome = SyncRejected
				results[i].Violations = []ledger.FieldViolation{{Field: "sequence", Description: fmt.Sprintf("is %d: in a session, records are numbered from 1", r.Sequence)}}
			case sess != nil && r.Sequence <= sess.AckedSeq:
				results[i].Outcome = SyncDuplicate // taken by an earlier chunk
			case sess != nil && r.Sequence <= last:
				results[i].Outcome = SyncRejected
				results[i].Violations = []ledger.FieldViolation{{Field: "sequence", Description: fmt.Sprintf("%d does not follow %d: sequences must increase", r.Sequence, last)}}
			case len(r.Problems.Violations) > 0:
				// Rejected before the chunk's bulk reads: a value no store
				// holds (a NUL in a reference) would fail them, and with
				// them every record of the chunk. Its sequence is taken.
				// Neither syncFast nor syncRecord sees such a record.
				results[i].Outcome = SyncRejected
				all, err := l.recordChecks(ctx, tx, debtorID, r, now, &jurisdiction)
				if err != nil {
					return err
				}
				results[i].Violations = violationsOf(all.Err())
				if sess != nil {
					last = r.Sequence
				}
			default:
				apply = append(apply, i)
				if sess != nil {
					last = r.Sequence
				}
			}
		}
		turn := writeTurn{rerun: attempt > 1, wait: func() error {
			if attempt > 1 {
				return nil // prev has ended
			}
			return prev.waitWritten(ctx, syncWaitLimit)
		}}
		if attempt == 1 {
			turn.before = prev
		}
		slow, err := l.syncFast(ctx, tx, debtorID, recs, apply, results, now, turn)
		if err != nil {
			return err
		}
		// The records taken one by one have their profiles recomputed
		// together after the last.
		lctx, later := withSummarizeLater(ctx)
		for _, i := range slow {
			r, res := &recs[i], &results[i]
			if err := tx.Savepoint(ctx, "sync_record"); err != nil {
				return err
			}
			mark := later.mark()
			if err := l.syncRecord(lctx, tx, debtorID, r, res, now); err != nil {
				if !rejectable(err) {
					return err
				}
				if rerr := tx.RollbackTo(ctx, "sync_record"); rerr != nil {
					return rerr
				}
				later.undo(mark)
				res.Outcome, res.Changed, res.InvoiceID = SyncRejected, nil, uuid.Nil
				res.Violations = violationsOf(err)
			}
			if err := tx.Release(ctx, "sync_record"); err != nil {
				return err
			}
		}
		if err := l.flushSummarizeLater(ctx, tx, later, now); err != nil {
			return err
		}
		me.markWritten()
		if attempt == 1 {
			if err := prev.wait(ctx, syncWaitLimit); err != nil {
				return err
			}
		}
		if sess == nil {
			return nil
		}
		if prev != nil {
			// The chunk before has committed: the session as it left it.
			// Had it acknowledged one of the records applied here, they
			// were judged against an older session: run again.
			s, err := tx.GetSyncSession(ctx, debtorID, session)
			switch {
			case errors.Is(err, ledger.ErrNotFound):
			case err != nil:
				return err
			default:
				// A record rejected out of order counts too: it would be
				// kept as rejected though that chunk took its sequence.
				for i := range recs {
					if seq := recs[i].Sequence; seq > 0 && seq <= s.AckedSeq && results[i].Outcome != SyncDuplicate {
						return fmt.Errorf("%w: sequence %d was acknowledged meanwhile", ledger.ErrConflict, seq)
					}
				}
				sess.AckedSeq, sess.Records, sess.Version, sess.CreateTime, sess.ResumeCheck = s.AckedSeq, s.Records, s.Version, s.CreateTime, s.ResumeCheck
			}
		}
		if last > sess.AckedSeq {
			// The check of the records up to the new acknowledged one;
			// a chunk that moves the session on without one leaves none
			// (the one kept was of fewer records).
			sess.ResumeCheck = check
		}
		sess.AckedSeq, sess.Records, sess.UpdateTime = max(last, sess.AckedSeq), sess.Records+int64(len(recs)), now
		if err := tx.PutSyncSession(ctx, sess); err != nil {
			return err
		}
		// The rejections of the records the session now acknowledges, kept
		// with it: a client whose answer is lost resumes after them. That
		// is every rejected record numbered from 1 (one out of order
		// too: it is at or below the acknowledged sequence), each number
		// once, as the first record holding it was answered.
		var rejected []*store.SyncRejection
		kept := map[int64]bool{} // sequences answered, rejected or not
		for i := range results {
			res := &results[i]
			first := !kept[res.Sequence]
			kept[res.Sequence] = true
			if res.Outcome == SyncRejected && res.Sequence > 0 && first {
				// A reference refused for its NUL is kept with U+FFFD in
				// its place: no store holds the NUL.
				ref := strings.ReplaceAll(res.DocumentRef, "\x00", "\uFFFD")
				rejected = append(rejected, &store.SyncRejection{Sequence: res.Sequence, DocumentRef: ref, Problems: res.Violations})
			}
		}
		if err := tx.PutSyncRejections(ctx, debtorID, session, rejected); err != nil {
			return err
		}
		acked = sess.AckedSeq
		return nil
	}
	err = l.store.ReadWriteTx(ctx, body)
	if errors.Is(err, errPrevRunning) {
		if err = prev.wait(streamCtx, 0); err == nil {
			// A new transaction, its record time read anew: the change
			// feed counts on a record time read at most MaxTxDuration
			// before its commit.
			now = l.now()
			err = l.store.ReadWriteTx(ctx, body)
		}
	}
	return results, acked, err
}

// errPrevRunning ends a chunk's transaction that must run again after the
// chunk before it, still running: the chunk waits for it outside any
// transaction, then runs again.
var errPrevRunning = errors.New("sync: the chunk before is still running")

// writeTurn is a chunk's turn to write after the chunk before it in
// flight (before; nil if none): wait returns once that one has written.
type writeTurn struct {
	wait   func() error
	before *chunkTicket
	// rerun: the transaction runs again after losing a race, and locks
	// the chunk's known invoices before it reads them.
	rerun bool
}

// syncFast settles in bulk the records that are plain invoices (no
// cancellation, a reference not repeated in the chunk, plain payments:
// new ones, or on a known invoice those it holds already) whose supplier
// is known or new to the ledger: an unchanged one costs nothing, a new
// one joins a single bulk load (COPY on PostgreSQL) with its revision,
// audit event and escalation row, a corrected one a single bulk update
// with the same, and a known one's new payments are recorded in bulk
// step by step (recordPaid). It waits for its turn before it writes anything another
// chunk may touch, at the latest as it returns, and returns the records
// left for the record-by-record path.
func (l *Ledger) syncFast(ctx context.Context, tx store.Tx, debtorID uuid.UUID, recs []SyncRecord, apply []int, results []SyncResult, now time.Time, turn writeTurn) ([]int, error) {
	if len(apply) == 0 {
		return nil, turn.wait()
	}
	// Shared before any invoice is written, as every writer of an invoice
	// takes the two (lockWithDebtor): a chunk that only corrects or pays
	// known invoices otherwise shared it after writing them, at the
	// summaries, and deadlocked with a region move of the debtor.
	debtor, err := tx.ShareParty(ctx, debtorID)
	if err != nil {
		return nil, err
	}
	count := map[string]int{}
	var refs []string
	var keys [][2]string
	seen := map[[2]string]bool{}
	for _, i := range apply {
		ref := strings.TrimSpace(recs[i].Invoice.DocumentRef)
		if count[ref]++; count[ref] == 1 {
			refs = append(refs, ref)
		}
		if c := recs[i].Creditor; c.ID == uuid.Nil {
			if k := [2]string{c.Jurisdiction, c.RegistrationID}; !seen[k] {
				seen[k] = true
				keys = append(keys, k)
			}
		}
	}
	existing, err := tx.InvoicesByDocumentRef(ctx, debtorID, refs)
	if err == nil && turn.rerun && len(existing) > 0 {
		// Run again after another writer changed invoices of the chunk
		// between its read and its lock (below): read again under the
		// locks, so that this attempt cannot lose the same way. Chunks of
		// one debtor sent side by side to the same invoices otherwise
		// lost attempt after attempt, each read going stale while it
		// queued for the locks, until the chunk answered ABORTED. Only on
		// a rerun: the first attempt locks no invoice it leaves unchanged.
		ids := make([]uuid.UUID, 0, len(existing))
		for _, inv := range existing {
			ids = append(ids, inv.ID)
		}
		if err = tx.LockInvoices(ctx, ids); err == nil {
			existing, err = tx.InvoicesByDocumentRef(ctx, debtorID, refs)
		}
	}
	for _, inv := range existing {
		// Updated in bulk under a version check: a change committed since
		// the read is a conflict and a rerun, which reads it again.
		now = notBefore(now, inv.UpdateTime)
	}
	if err != nil {
		return nil, err
	}
	// Payment references: twice in the chunk, or taken already (unless by
	// the same payment of the record's own invoice), sends the record the
	// slow way, which refuses or matches it as a single RecordPayment
	// would.
	payRefs := map[string]int{}
	var payList []string
	for _, i := range apply {
		for _, p := range recs[i].Payments {
			ref := strings.TrimSpace(p.Payment.Reference)
			if payRefs[ref]++; payRefs[ref] == 1 {
				payList = append(payList, ref)
			}
		}
	}
	taken, err := tx.PaymentsByReference(ctx, debtorID, payList)
	if err != nil {
		return nil, err
	}
	// Known invoices holding a payment another record of the chunk names:
	// that record, taken one by one, changes the invoice in its turn, so a
	// change of the invoice in bulk (written first) would change their
	// order; such an invoice's own change goes one by one too.
	crossNamed := map[uuid.UUID]bool{}
	for _, i := range apply {
		own := existing[strings.TrimSpace(recs[i].Invoice.DocumentRef)]
		for _, p := range recs[i].Payments {
			if held := taken[strings.TrimSpace(p.Payment.Reference)]; held != nil && (own == nil || own.ID != held.InvoiceID) {
				crossNamed[held.InvoiceID] = true
			}
		}
	}
	creditors, err := tx.PartiesByRegistration(ctx, keys)
	if err != nil {
		return nil, err
	}
	byID := map[uuid.UUID]*ledger.Party{}
	for _, i := range apply {
		if id := recs[i].Creditor.ID; id != uuid.Nil && byID[id] == nil {
			p, err := tx.GetParty(ctx, id)
			switch {
			case errors.Is(err, ledger.ErrNotFound):
				continue // the record path reports it
			case err != nil:
				return nil, err
			}
			byID[id] = p
		}
	}
	var slow []int
	var newInvs, corrected []*ledger.Invoice
	var checks []ledger.Escalation // newInvs' escalation rows
	var paid []paidInvoice
	unknown, created := map[[2]string]*ledger.Party{}, map[[2]string]bool{}
	var newParties []*ledger.Party
	var payments []*ledger.Payment
	facts := map[uuid.UUID]*store.Facts{}
	today := l.Today(now, debtor.Jurisdiction)
	// A supplier new to the ledger is made from the first record of it that
	// is accepted, as the record-by-record path would: a refused record
	// forgets the one it made.
	forget := func(key [2]string) {
		if !created[key] {
			delete(unknown, key)
		}
	}
	// Suppliers new to the ledger with a record taken one by one: their
	// later records go that way too, in order, so that the supplier is
	// made from its first record, as record by record (the records taken
	// one by one run after the bulk writes).
	slowNew := map[[2]string]bool{}
	for _, i := range apply {
		r, res := &recs[i], &results[i]
		ref := strings.TrimSpace(r.Invoice.DocumentRef)
		key := [2]string{r.Creditor.Jurisdiction, r.Creditor.RegistrationID}
		creditor := creditors[key]
		if r.Creditor.ID != uuid.Nil {
			creditor = byID[r.Creditor.ID]
		}
		if n := len(r.Payments); n > ledger.MaxFactsPerKind {
			res.Outcome = SyncRejected
			res.Violations = []ledger.FieldViolation{{Field: "payments", Description: fmt.Sprintf("%d payments; the ledger keeps at most %d for one invoice", n, ledger.MaxFactsPerKind)}}
			continue
		}
		cur, known := existing[ref]
		var fresh []int // a known invoice's payments in the record it does not hold yet
		plain := true
		if known {
			fresh, plain = knownPayments(r.Payments, cur, payRefs, taken, today)
		} else {
			plain = plainPayments(r.Payments, payRefs, taken, today)
		}
		newSupplier := creditor == nil && r.Creditor.ID == uuid.Nil && !known
		if !r.CancelledOn.IsZero() || count[ref] > 1 || !plain || (newSupplier && slowNew[key]) {
			if newSupplier && !created[key] {
				slowNew[key] = true
			}
			slow = append(slow, i)
			continue
		}
		if newSupplier {
			// A supplier new to the ledger, created with the first of its
			// invoices the chunk accepts (none accepted, none created).
			if creditor = unknown[key]; creditor == nil {
				np, err := unverifiedParty(r, now)
				if err != nil {
					// Refused there, naming the field; and the supplier is
					// left to that path, as for any record sent there
					// first, so that a later record of the chunk does not
					// create it in bulk before this one is taken (which
					// would then find it, and be accepted only because of
					// where the chunk's boundary fell).
					slowNew[key] = true
					slow = append(slow, i)
					continue
				}
				unknown[key], creditor = np, np
			}
		}
		if creditor == nil {
			slow = append(slow, i)
			continue
		}
		if known {
			// A known invoice: its own fields may have changed, or it may
			// have new payments (knownPayments has matched the rest).
			// A correction that settles contests goes the record's way.
			if cur.CreditorID != creditor.ID {
				slow = append(slow, i)
				continue
			}
			mask := differingFields(cur, r.Invoice)
			if crossNamed[cur.ID] && (len(fresh) > 0 || len(mask) > 0) {
				slow = append(slow, i)
				continue
			}
			if len(fresh) > 0 {
				// New payments of an invoice otherwise unchanged are
				// recorded as RecordPayment records each, in the record's
				// order, in bulk: a revision of the invoice for each. With a
				// correction they go the record's way.
				if len(mask) > 0 || cur.Status == ledger.StatusCancelled || cur.Contested > 0 {
					slow = append(slow, i)
					continue
				}
				steps, ok := paymentSteps(r.Payments, fresh, cur, now)
				if !ok {
					slow = append(slow, i) // refused there, naming the field
					continue
				}
				res.Outcome, res.InvoiceID = SyncUpdated, cur.ID
				for _, k := range fresh {
					res.Changed = append(res.Changed, fmt.Sprintf("payments[%d]:recorded", k))
				}
				for k := range steps {
					steps[k].rec = i
				}
				paid = append(paid, steps...)
				continue
			}
			if cur.Status == ledger.StatusCancelled && len(mask) > 0 {
				res.Outcome, res.Violations = SyncRejected, cancelledCorrection(cur, mask)
				continue
			}
			if len(mask) == 0 {
				res.Outcome, res.InvoiceID = SyncUnchanged, cur.ID
				continue
			}
			if cur.Contested > 0 || r.Invoice.Amount.Currency != cur.Amount.Currency {
				slow = append(slow, i) // a new currency is checked against the facts there
				continue
			}
			// A correction effective today, checked as UpdateInvoice
			// checks it, saved with the chunk's others in bulk.
			next, reselect, err := applyMask(cur, r.Invoice, mask)
			if err == nil {
				_, err = l.checkCorrection(cur, next, reselect, debtor, civil.Date{}, today, "")
			}
			if err != nil {
				res.Outcome, res.Violations = SyncRejected, violationsOf(err)
				continue
			}
			next.UpdateTime = now
			next.Derive()
			res.Outcome, res.InvoiceID, res.Changed = SyncUpdated, cur.ID, mask
			corrected = append(corrected, next)
			continue
		}
		var v ledger.ValidationError
		inv, _ := l.prepareInvoice(&v, debtor, creditor, r.Invoice, "", now)
		if err := v.Err(); err != nil {
			forget(key)
			res.Outcome, res.Violations = SyncRejected, violationsOf(err)
			continue
		}
		pays, ok := paymentsOf(r.Payments, &inv, now)
		if !ok {
			forget(key)
			slow = append(slow, i) // more paid than owed: refused there
			continue
		}
		inv.Derive()
		if np := unknown[key]; np != nil && np == creditor && !created[key] {
			created[key] = true
			newParties = append(newParties, np)
		}
		res.Outcome, res.InvoiceID = SyncCreated, inv.ID
		// As a record taken alone names them (syncRecord).
		for k := range pays {
			res.Changed = append(res.Changed, fmt.Sprintf("payments[%d]:recorded", k))
		}
		newInvs = append(newInvs, &inv)
		payments = append(payments, pays...)
		f := &store.Facts{}
		for _, p := range pays {
			f.Payments = append(f.Payments, *p)
		}
		facts[inv.ID] = f
		checks = append(checks, l.firstCheck(&inv, f, debtor.Jurisdiction, now))
	}
	// The new invoices' profiles are computed before the writing starts.
	profiles, err := l.profileChanges(ctx, tx, newInvs, facts, nil)
	if err != nil {
		return nil, err
	}
	if paid, err = roomForPaid(ctx, tx, paid, results); err != nil {
		return nil, err
	}
	// The rows only this chunk writes, its new and corrected invoices with
	// their revisions, payments, escalations and summary profiles, go in
	// while the chunk before may still be writing: no document reference is
	// in both (a chunk naming one of the chunk before waits for it to commit
	// before it starts). New suppliers, which another chunk may name too,
	// and the records taken one by one wait for the chunk before to have
	// written; that one then never waits on this. So do corrections and new
	// payments of an invoice holding a payment whose reference the chunk
	// before names: its record of that payment reaches this invoice. The
	// rows all chunks share (the summary aggregates, the audit chain, the
	// session) are written as the transaction ends, after the chunk before
	// has committed.
	gated := false
	gate := func() error {
		if gated {
			return nil
		}
		gated = true
		return turn.wait()
	}
	if len(newParties) > 0 {
		if err := gate(); err != nil {
			return nil, err
		}
	}
	// The known invoices this chunk changes: corrected, or newly paid.
	touched := slices.Clip(corrected)
	for _, p := range paid {
		if p.last {
			touched = append(touched, p.inv)
		}
	}
	if len(touched) > 0 && !gated {
		reached, err := paymentNamedBefore(ctx, tx, touched, turn.before)
		if err != nil {
			return nil, err
		}
		if reached {
			if err := gate(); err != nil {
				return nil, err
			}
		}
	}
	for _, np := range newParties {
		if err := l.createSupplier(ctx, tx, np, now); err != nil {
			return nil, err
		}
	}
	// Every known invoice the chunk will change, here or one record at a
	// time after, locked at once in one order: chunks of one debtor sent
	// side by side (several clients, no session) otherwise locked them in
	// the orders of their bulk update and of their records, and deadlocked.
	// A change committed since they were read still fails the version
	// check, and the chunk reruns.
	var locking []uuid.UUID
	for _, inv := range touched {
		locking = append(locking, inv.ID)
	}
	for _, i := range slow {
		if cur := existing[strings.TrimSpace(recs[i].Invoice.DocumentRef)]; cur != nil {
			locking = append(locking, cur.ID)
		}
	}
	if err := tx.LockInvoices(ctx, locking); err != nil {
		return nil, err
	}
	c := store.Change{RecordTime: now, Method: "SyncPayables", Actor: actor(ctx)}
	if err := tx.CreateInvoices(ctx, newInvs, checks, payments, c); err != nil {
		return nil, err
	}
	c.Method, c.EffectiveOn = "UpdateInvoice", today
	if err := tx.UpdateInvoices(ctx, corrected, c); err != nil {
		return nil, err
	}
	if err := l.recordPaid(ctx, tx, paid, now); err != nil {
		return nil, err
	}
	if err := l.putBatch(ctx, tx, profiles, now); err != nil {
		return nil, err
	}
	if err := l.resummarize(ctx, tx, touched, now); err != nil {
		return nil, err
	}
	return slow, gate()
}

// paidInvoice is a known invoice after one of its new payments, counted
// in it: the step'th of the record's new payments (from 0), the last one
// of them or not.
type paidInvoice struct {
	inv  *ledger.Invoice
	pay  *ledger.Payment
	step int
	last bool
	rec  int // the record's index in the chunk
}

// roomForPaid rejects the records whose new payments would take their
// invoice past ledger.MaxFactsPerKind payments, as RecordPayment refuses
// the payment that would (roomForFacts), and returns the others' steps.
// The invoices' payments are counted in one read.
func roomForPaid(ctx context.Context, tx store.Tx, paid []paidInvoice, results []SyncResult) ([]paidInvoice, error) {
	adding := map[uuid.UUID]int{}
	for _, p := range paid {
		adding[p.inv.ID]++
	}
	if len(adding) == 0 {
		return paid, nil
	}
	facts, err := tx.Facts(ctx, slices.Collect(maps.Keys(adding)))
	if err != nil {
		return nil, err
	}
	kept := paid[:0]
	for _, p := range paid {
		have := factPayments.count(facts[p.inv.ID])
		if have+adding[p.inv.ID] <= ledger.MaxFactsPerKind {
			kept = append(kept, p)
			continue
		}
		results[p.rec] = SyncResult{Sequence: results[p.rec].Sequence, DocumentRef: results[p.rec].DocumentRef, Outcome: SyncRejected,
			Violations: []ledger.FieldViolation{{Field: "payments", Description: fmt.Sprintf("invoice %q holds %d payments; %d more would pass the %d the ledger keeps for one invoice",
				p.inv.DocumentRef, have, adding[p.inv.ID], ledger.MaxFactsPerKind)}}}
	}
	return kept, nil
}

// paymentSteps applies a known invoice's new payments (the indexes fresh
// of ps) one after the other, as RecordPayment would record each: the
// invoice after each, at the version it will then have been read at.
// False if one is in another currency or pays more than is then owed.
func paymentSteps(ps []SyncPayment, fresh []int, cur *ledger.Invoice, now time.Time) ([]paidInvoice, bool) {
	steps := make([]paidInvoice, 0, len(fresh))
	state := *cur
	for n, k := range fresh {
		pays, ok := paymentsOf(ps[k:k+1], &state, now)
		if !ok {
			return nil, false
		}
		state.UpdateTime = now
		state.Derive()
		next := state
		next.Version = cur.Version + int64(n)
		steps = append(steps, paidInvoice{inv: &next, pay: pays[0], step: n, last: n == len(fresh)-1})
	}
	return steps, true
}

// recordPaid writes what RecordPayment writes for each, step by step (all
// invoices' first new payments, then their second, ...): the payment with
// its revision and audit event, then the invoice's new paid total, its
// revision effective on the day paid (so updated in groups by that day),
// audit event and escalation check brought forward to that day. Their
// summary profiles are the caller's to recount.
func (l *Ledger) recordPaid(ctx context.Context, tx store.Tx, paid []paidInvoice, now time.Time) error {
	for step := 0; ; step++ {
		var pays []*ledger.Payment
		creditors := map[uuid.UUID]uuid.UUID{}
		byDay := map[civil.Date][]*ledger.Invoice{}
		for _, p := range paid {
			if p.step == step {
				pays, creditors[p.inv.ID] = append(pays, p.pay), p.inv.CreditorID
				byDay[p.pay.PaidOn] = append(byDay[p.pay.PaidOn], p.inv)
			}
		}
		if len(pays) == 0 {
			return nil
		}
		c := store.Change{RecordTime: now, Method: "RecordPayment", Actor: actor(ctx)}
		if err := tx.CreatePayments(ctx, pays, creditors, c); err != nil {
			return err
		}
		days := slices.SortedFunc(maps.Keys(byDay), civil.Date.Compare)
		for _, day := range days {
			c.EffectiveOn = day
			if err := tx.UpdateInvoices(ctx, byDay[day], c); err != nil {
				return err
			}
		}
	}
}

// paymentNamedBefore reports whether one of invs holds a payment whose
// reference the chunk before (nil: none in flight) names.
func paymentNamedBefore(ctx context.Context, tx store.Tx, invs []*ledger.Invoice, before *chunkTicket) (bool, error) {
	if before == nil || !before.paymentKeys {
		return false, nil
	}
	facts, err := tx.Facts(ctx, invoiceIDs(invs))
	if err != nil {
		return false, err
	}
	for _, f := range facts {
		for _, p := range f.Payments {
			if before.keys["p:"+strings.TrimSpace(p.Reference)] {
				return true, nil
			}
		}
	}
	return false, nil
}

// plainPayments reports whether a new invoice's payments can be loaded in
// bulk with it: each a valid transfer-like payment (no bill maturity, no
// reversal) dated by today, under a reference used once in the chunk and
// not yet taken. Anything else goes through RecordPayment's own checks.
func plainPayments(ps []SyncPayment, refs map[string]int, taken map[string]*ledger.Payment, today civil.Date) bool {
	for _, sp := range ps {
		p := sp.Payment
		ref := strings.TrimSpace(p.Reference)
		var v ledger.ValidationError
		ledger.ValidateRef(&v, "reference", ref, true)
		ledger.ValidateAmount(&v, "amount", ledger.MoneyOf(p.Amount, p.Currency))
		checkFactDate(&v, "paid_on", p.PaidOn, today)
		if v.Err() != nil || refs[ref] > 1 || taken[ref] != nil || !sp.ReversedOn.IsZero() || !p.MaturityOn.IsZero() ||
			(p.Instrument != "" && (!p.Instrument.Valid() || p.Instrument.HasMaturity())) {
			return false
		}
	}
	return true
}

// knownPayments sorts a known invoice's payments in a record: each is one
// it holds already, as RecordPayment would match it (same content) with
// nothing to do (a reversal in the record is recorded), or a new plain
// payment (see plainPayments), whose indexes it returns. False if any is
// neither (another invoice's, other content, a reversal to record, a
// reference written otherwise): the record's way settles those.
func knownPayments(ps []SyncPayment, inv *ledger.Invoice, refs map[string]int, taken map[string]*ledger.Payment, today civil.Date) ([]int, bool) {
	var fresh []int
	for i, sp := range ps {
		p := sp.Payment
		if p.Reference != strings.TrimSpace(p.Reference) || refs[p.Reference] > 1 {
			return nil, false
		}
		held := taken[p.Reference]
		if held == nil {
			if !plainPayments(ps[i:i+1], refs, taken, today) {
				return nil, false
			}
			fresh = append(fresh, i)
			continue
		}
		p.InvoiceID, p.DebtorID = inv.ID, inv.DebtorID
		if p.Instrument == "" {
			p.Instrument = ledger.InstrumentTransfer
		}
		if held.InvoiceID != inv.ID || !held.SameContent(&p) || (!sp.ReversedOn.IsZero() && held.State != ledger.PaymentReversed) ||
			rereversed(held, sp) != nil {
			return nil, false
		}
	}
	return fresh, true
}

// paymentsOf makes a new invoice's plain payments, adding them to its paid
// total; false if they are in another currency or pay more than it owes.
func paymentsOf(ps []SyncPayment, inv *ledger.Invoice, now time.Time) ([]*ledger.Payment, bool) {
	out := make([]*ledger.Payment, 0, len(ps))
	for _, sp := range ps {
		p := sp.Payment
		if p.Currency != inv.Amount.Currency || p.Amount > inv.Outstanding() {
			return nil, false
		}
		p.ID, p.InvoiceID, p.DebtorID, p.Reference = newID(), inv.ID, inv.DebtorID, strings.TrimSpace(p.Reference)
		p.ReversedOn, p.ReversalReason = civil.Date{}, "" // as RecordPayment records it
		if p.Instrument == "" {
			p.Instrument = ledger.InstrumentTransfer
		}
		p.State, p.CreateTime, p.UpdateTime = ledger.PaymentRecorded, now, now
		inv.Paid += p.Amount
		out = append(out, &p)
	}
	return out, true
}

// rejectable reports whether an error is about the record, not the system.
func rejectable(err error) bool {
	var ve *ledger.ValidationError
	return errors.As(err, &ve) || errors.Is(err, ledger.ErrAlreadyExists) || errors.Is(err, ledger.ErrFailedPrecondition) ||
		errors.Is(err, ledger.ErrNotFound) || errors.Is(err, ledger.ErrPermissionDenied) || errors.Is(err, ledger.ErrStale)
}

// recordChecks adds to the problems found in decoding a record those the
// invoice's own checks find (its store-free ones: references, amounts,
// dates), so that a record refused early, say for its creditor's name,
// lists every problem, as a request does. jurisdiction caches the
// debtor's, which dates the checks.
func (l *Ledger) recordChecks(ctx context.Context, tx store.Tx, debtorID uuid.UUID, r *SyncRecord, now time.Time, jurisdiction *string) (ledger.ValidationError, error) {
	v := r.Problems
	if r.Invoice == nil {
		return v, nil
	}
	if *jurisdiction == "" {
		d, err := tx.GetParty(ctx, debtorID)
		if err != nil {
			return v, err
		}
		*jurisdiction = d.Jurisdiction
	}
	inv := *r.Invoice
	var checks *ledger.ValidationError
	if !errors.As(inv.Normalize(l.Today(now, *jurisdiction)), &checks) {
		return v, nil
	}
	// A field refused in decoding is not judged again: a reference with a
	// NUL would also be one "with control characters".
	for _, c := range checks.Violations {
		// Decoding names the invoice's dates as CreateInvoice's request
		// holds them ("invoice.issued_on"); violationsOf strips that.
		if !r.Problems.Has(c.Field) && !r.Problems.Has("invoice."+c.Field) {
			v.Add(c.Field, "%s", c.Description)
		}
	}
	return v, nil
}

// violationsOf names a rejected record's problems by the record's own
// fields (a PayableRecord's): the checks it shares with CreateInvoice and
// CancelInvoice name theirs as those requests hold them.
func violationsOf(err error) []ledger.FieldViolation {
	var ve *ledger.ValidationError
	if !errors.As(err, &ve) {
		return []ledger.FieldViolation{{Field: "record", Description: err.Error()}}
	}
	out := ve.Renamed(func(f string) string {
		if f = strings.TrimPrefix(f, "invoice."); f == "reason" { // CancelInvoice's
			return "cancel_reason"
		}
		return f
	}).Violations
	if ve.Omitted > 0 {
		out = append(out, ledger.FieldViolation{Field: "record", Description: fmt.Sprintf("%d more problems, not listed", ve.Omitted)})
	}
	return out
}

// syncRecord creates or updates one invoice and its payments.
func (l *Ledger) syncRecord(ctx context.Context, tx store.Tx, debtorID uuid.UUID, r *SyncRecord, res *SyncResult, now time.Time) error {
	creditor, err := l.syncCreditor(ctx, tx, r, now)
	if err != nil {
		return err
	}
	inv, err := tx.GetInvoiceByDocumentRef(ctx, debtorID, strings.TrimSpace(r.Invoice.DocumentRef))
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		inv, err = l.createInvoiceTx(ctx, tx, CreateInvoiceInput{Invoice: r.Invoice, Debtor: PartyRef{ID: debtorID}, Creditor: PartyRef{ID: creditor.ID}, method: "SyncPayables"}, now)
		if errors.Is(err, ledger.ErrAlreadyExists) {
			// Not there when read, there when written: another writer
			// took the reference meanwhile. The record is not at fault;
			// the chunk reruns and takes the update path.
			return fmt.Errorf("invoice %q: %w", r.Invoice.DocumentRef, ledger.ErrConflict)
		}
		if err != nil {
			return err
		}
		res.Outcome = SyncCreated
	case err != nil:
		return err
	default:
		if inv.CreditorID != creditor.ID {
			// Two suppliers' own invoice numbers may well be the same: the
			// reference is the debtor's document, one invoice each.
			return ledger.Invalid("creditor", "invoice %q is owed to another supplier in the ledger: a document reference names one invoice of the debtor (its own document number, not a supplier's invoice number, which two suppliers may share); if the supplier was recorded wrongly, cancel that invoice and record this one under a new reference", inv.DocumentRef)
		}
	}
	// The payments to apply, each reference once: a reference listed twice
	// in a record is the same payment if its content is, else refused as
	// such (recorded from the first, the second was refused as differing
	// from a payment the rejection undid).
	var pays []int
	listed := make(map[string]int, len(r.Payments))
	for i, p := range r.Payments {
		ref := strings.TrimSpace(p.Payment.Reference)
		if j, ok := listed[ref]; ok {
			if r.Payments[j] == p {
				continue
			}
			return ledger.Invalid(fmt.Sprintf("payments[%d].reference", i), "%q is the reference of payments[%d] too, with other content: a payment is listed once", ref, j)
		}
		listed[ref] = i
		pays = append(pays, i)
	}
	pay := func(i int) error {
		changed, err := l.syncPayment(ctx, tx, inv, r.Payments[i], now)
		if err != nil {
			return prefixPayment(err, i)
		}
		if changed != "" {
			res.Changed = append(res.Changed, fmt.Sprintf("payments[%d]:%s", i, changed))
		}
		return nil
	}
	if res.Outcome != SyncCreated {
		mask := differingFields(inv, r.Invoice)
		if len(mask) > 0 && inv.Status == ledger.StatusCancelled {
			return &ledger.ValidationError{Violations: cancelledCorrection(inv, mask)}
		}
		if err := recancelled(inv, r); err != nil {
			return err
		}
		if len(mask) > 0 {
			// The reversals of payments the invoice holds go first: a
			// record lowering the amount and reversing the payment that
			// exceeded it is applied as the ERP shows it, not refused for
			// the payment it reverses.
			var later []int
			for _, i := range pays {
				early, err := l.reversesHeld(ctx, tx, inv, r.Payments[i])
				if err != nil {
					return err
				}
				if !early {
					later = append(later, i)
				} else if err := pay(i); err != nil {
					return err
				}
			}
			pays = later
			if inv, err = l.updateInvoiceTx(ctx, tx, inv.ID, r.Invoice, mask, "", civil.Date{}, "", now); err != nil {
				return err
			}
			res.Changed = append(res.Changed, mask...)
		}
	}
	res.InvoiceID = inv.ID
	for _, i := range pays {
		if err := pay(i); err != nil {
			return err
		}
	}
	if !r.CancelledOn.IsZero() && inv.Status != ledger.StatusCancelled {
		if _, err := l.cancelInvoiceTx(ctx, tx, inv.ID, r.CancelledOn, r.CancelReason, "", now); err != nil {
			return err
		}
		res.Changed = append(res.Changed, "cancelled_on")
	}
	if res.Outcome == "" {
		res.Outcome = SyncUnchanged
		if len(res.Changed) > 0 {
			res.Outcome = SyncUpdated
		}
	}
	return nil
}

// reversesHeld reports whether sp reverses a payment inv holds and has not
// reversed yet.
func (l *Ledger) reversesHeld(ctx context.Context, tx store.Tx, inv *ledger.Invoice, sp SyncPayment) (bool, error) {
	if sp.ReversedOn.IsZero() {
		return false, nil
	}
	prev, err := tx.GetPaymentByReference(ctx, inv.DebtorID, strings.TrimSpace(sp.Payment.Reference))
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		return false, nil
	case err != nil:
		return false, err
	}
	return prev.InvoiceID == inv.ID && prev.State != ledger.PaymentReversed, nil
}

// syncCreditor finds the supplier by its natural key, or creates it as an
// unverified party from what the debtor's record says.
func (l *Ledger) syncCreditor(ctx context.Context, tx store.Tx, r *SyncRecord, now time.Time) (*ledger.Party, error) {
	p, err := resolveParty(ctx, tx, r.Creditor)
	if err == nil || !errors.Is(err, ledger.ErrNotFound) {
		return p, err
	}
	if r.Creditor.ID != uuid.Nil {
		return nil, ledger.Invalid("creditor", "no party %s is registered", r.Creditor)
	}
	np, err := unverifiedParty(r, now)
	if err != nil {
		return nil, err
	}
	if err := l.createSupplier(ctx, tx, np, now); err != nil {
		return nil, err
	}
	return np, nil
}

// createSupplier records a supplier new to the ledger. One created
// meanwhile by another writer runs the chunk again, which then finds it,
// rather than refuse the record.
func (l *Ledger) createSupplier(ctx context.Context, tx store.Tx, np *ledger.Party, now time.Time) error {
	err := tx.CreateParty(ctx, np, partyChange(ctx, l.Today(now, np.Jurisdiction), now, "SyncPayables"))
	if errors.Is(err, ledger.ErrAlreadyExists) {
		return fmt.Errorf("supplier %s:%s: %w", np.Jurisdiction, np.RegistrationID, ledger.ErrConflict)
	}
	return err
}

// unverifiedParty is the supplier a record names by registration number
// and the ledger does not know yet, as the record describes it.
func unverifiedParty(r *SyncRecord, now time.Time) (*ledger.Party, error) {
	region := r.CreditorRegion
	if region == "" && r.Creditor.Jurisdiction == "CN" {
		region = regid.CNRegionCode(r.Creditor.RegistrationID)
	}
	size := r.CreditorSize
	if size == "" {
		size = r.Invoice.CreditorSizeAtSigning
	}
	kind := ledger.KindSME
	if size == ledger.SizeLarge {
		kind = ledger.KindLargeEnterprise
	}
	np := &ledger.Party{ID: newID(), DisplayName: r.CreditorName, Kind: kind, SizeClass: size, Jurisdiction: r.Creditor.Jurisdiction,
		RegistrationID: r.Creditor.RegistrationID, RegionCode: region, Unverified: true, CreateTime: now, UpdateTime: now}
	// The party's problems, named as the record holds each value.
	var pv *ledger.ValidationError
	if err := np.Normalize(); errors.As(err, &pv) {
		return nil, pv.Renamed(func(f string) string {
			switch f {
			case "display_name":
				return "creditor_name"
			case "size_class":
				return "creditor_size_class"
			case "region_code":
				return "creditor_region_code"
			}
			return "creditor" // the name: jurisdiction and registration id
		})
	} else if err != nil {
		return nil, err
	}
	return np, nil
}

// syncPayment records a new payment or an explicit reversal; the same
// payment again changes nothing.
func (l *Ledger) syncPayment(ctx context.Context, tx store.Tx, inv *ledger.Invoice, sp SyncPayment, now time.Time) (string, error) {
	p := sp.Payment
	prev, err := tx.GetPaymentByReference(ctx, inv.DebtorID, strings.TrimSpace(p.Reference))
	switch {
	case errors.Is(err, ledger.ErrNotFound):
		if _, _, err := l.recordPaymentTx(ctx, tx, inv.ID, &p, now); err != nil {
			return "", err
		}
		if !sp.ReversedOn.IsZero() {
			prev, err = tx.GetPaymentByReference(ctx, inv.DebtorID, strings.TrimSpace(p.Reference))
			if err != nil {
				return "", err
			}
			if _, _, err := l.reversePaymentTx(ctx, tx, inv.ID, prev.ID, sp.ReversedOn, sp.ReversalReason, "", now); err != nil {
				return "", err
			}
		}
		return "recorded", nil
	case err != nil:
		return "", err
	}
	if prev.InvoiceID != inv.ID {
		// Another invoice holds it: RecordPayment on this one refuses the
		// reference, and so does its record. Matched silently, this
		// invoice would stay unpaid while the ERP shows it paid.
		held, err := tx.GetInvoice(ctx, prev.InvoiceID)
		if err != nil {
			return "", err
		}
		return "", ledger.Invalid("reference", "%q is a payment of invoice %q; a payment belongs to one invoice", prev.Reference, held.DocumentRef)
	}
	// Same content, or refused naming what differs (recordPaymentTx would
	// answer ALREADY_EXISTS about the whole record).
	cand := p
	cand.InvoiceID, cand.Reference, cand.Currency = prev.InvoiceID, prev.Reference, money.CodeUpper(strings.TrimSpace(p.Currency))
	if cand.Instrument == "" {
		cand.Instrument = ledger.InstrumentTransfer
	}
	if d := prev.ContentDiffers(&cand); len(d) > 0 {
		return "", &ledger.ValidationError{Violations: d}
	}
	// Reusing the first payment's own checks.
	if _, _, err := l.recordPaymentTx(ctx, tx, prev.InvoiceID, &p, now); err != nil {
		return "", err
	}
	if !sp.ReversedOn.IsZero() && prev.State != ledger.PaymentReversed {
		if _, _, err := l.reversePaymentTx(ctx, tx, prev.InvoiceID, prev.ID, sp.ReversedOn, sp.ReversalReason, "", now); err != nil {
			return "", err
		}
		return "reversed", nil
	}
	return "", rereversed(prev, sp)
}

// rereversed refuses a record reversing a payment reversed before on
// another date or for another reason (restated).
func rereversed(prev *ledger.Payment, sp SyncPayment) error {
	if prev.State != ledger.PaymentReversed || sp.ReversedOn.IsZero() {
		return nil
	}
	return restated(fact{"payment", prev.Reference, "reversed", "a reversal", "reversed_on", "reversal_reason"},
		prev.ReversedOn, sp.ReversedOn, prev.ReversalReason, sp.ReversalReason)
}

// cancelledCorrection refuses a record correcting a cancelled invoice, as
// UpdateInvoice refuses it, naming each field the record would change:
// reported UNCHANGED, the difference would go unseen.
func cancelledCorrection(inv *ledger.Invoice, mask []string) []ledger.FieldViolation {
	out := make([]ledger.FieldViolation, len(mask))
	for i, m := range mask {
		out[i] = ledger.FieldViolation{Field: m, Description: fmt.Sprintf("invoice %q was cancelled on %s: a cancelled invoice is not corrected", inv.DocumentRef, inv.CancelledOn)}
	}
	return out
}

// recancelled refuses a record that cancels an invoice cancelled before
// on another date or for another reason (restated).
func recancelled(inv *ledger.Invoice, r *SyncRecord) error {
	if inv.Status != ledger.StatusCancelled || r.CancelledOn.IsZero() {
		return nil
	}
	return restated(fact{"invoice", inv.DocumentRef, "cancelled", "a cancellation", "cancelled_on", "cancel_reason"},
		inv.CancelledOn, r.CancelledOn, inv.CancelReason, r.CancelReason)
}

// fact names an act done once to a record (a cancellation, a reversal),
// and the record's fields for its date and reason, for restated.
type fact struct{ what, ref, done, act, onField, reasonField string }

// restated refuses a record stating again an act the ledger holds, on
// another date (sent, held) or for another reason (an empty one is the
// same): an act is not re-dated or re-argued, and reporting the record
// UNCHANGED would hide that the ERP and the ledger disagree.
func restated(f fact, held, sent civil.Date, heldReason, sentReason string) error {
	var v ledger.ValidationError
	if sent != held {
		v.Add(f.onField, "%s %q was %s on %s, not %s: %s is not re-dated", f.what, f.ref, f.done, held, sent, f.act)
	}
	if sentReason != "" && sentReason != heldReason {
		v.Add(f.reasonField, "%s %q was %s for %q: %s is not re-argued", f.what, f.ref, f.done, heldReason, f.act)
	}
	return v.Err()
}

// prefixPayment names the payment a violation is about.
func prefixPayment(err error, i int) error {
	var ve *ledger.ValidationError
	if errors.Is(err, ledger.ErrFailedPrecondition) {
		// The invoice's state refuses this payment (cancelled, or holding
		// all the payments the ledger keeps): the record says which.
		return ledger.Invalid(fmt.Sprintf("payments[%d]", i), "%s", strings.TrimPrefix(err.Error(), ledger.ErrFailedPrecondition.Error()+": "))
	}
	if !errors.As(err, &ve) {
		return err
	}
	return ve.Renamed(func(f string) string {
		f = strings.TrimPrefix(strings.TrimPrefix(f, "payment."), "payments.")
		if f == "reason" { // ReversePayment's
			f = "reversal_reason"
		}
		return fmt.Sprintf("payments[%d].", i) + f
	})
}

// differingFields lists the correctable fields where the record differs
// from the stored invoice, as UpdateInvoice's mask names them.
func differingFields(cur, rec *ledger.Invoice) []string {
	var mask []string
	add := func(name string, differ bool) {
		if differ {
			mask = append(mask, name)
		}
	}
	add("contract_ref", strings.TrimSpace(rec.ContractRef) != cur.ContractRef)
	add("amount", rec.Amount.Minor != cur.Amount.Minor || money.CodeUpper(strings.TrimSpace(rec.Amount.Currency)) != cur.Amount.Currency)
	add("contract_signed_on", rec.ContractSignedOn != cur.ContractSignedOn)
	add("issued_on", rec.IssuedOn != cur.IssuedOn)
	add("received_on", rec.ReceivedOn != cur.ReceivedOn)
	add("delivered_on", rec.DeliveredOn != cur.DeliveredOn)
	add("acceptance_required", rec.AcceptanceRequired != cur.AcceptanceRequired)
	add("acceptance_period_days", rec.AcceptancePeriodDays != cur.AcceptancePeriodDays)
	add("acceptance_passed_on", rec.AcceptancePassedOn != cur.AcceptancePassedOn)
	add("settlement_confirmed_on", rec.SettlementConfirmedOn != cur.SettlementConfirmedOn)
	add("agreed_term_days", rec.AgreedTermDays != cur.AgreedTermDays)
	add("agreed_due_date", rec.AgreedDueDate != cur.AgreedDueDate)
	add("agreed_interest_rate", (rec.AgreedRate == nil) != (cur.AgreedRate == nil) ||
		(rec.AgreedRate != nil && cur.AgreedRate != nil && *rec.AgreedRate != *cur.AgreedRate))
	add("creditor_size_class_at_signing", rec.CreditorSizeAtSigning != "" && rec.CreditorSizeAtSigning != cur.CreditorSizeAtSigning)
	return mask
}
