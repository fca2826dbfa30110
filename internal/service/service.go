// Package service holds the ledger's use cases: each method reads the clock
// once, checks the request against the records as they stand, and writes
// through the store in one transaction. It knows nothing of gRPC or SQL:
// transport hands it domain records, engines persist them.
package service

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/judgement"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/policy"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/store"
)

// Ledger implements the ledger's use cases.
type Ledger struct {
	store    store.Store
	clock    clock.Clock
	policies *policy.Registry
	log      *slog.Logger

	zonesMu sync.Mutex
	zones   map[string]*time.Location
	// jurisdictions caches each party's jurisdiction (never changed after
	// creation: it is half the party's natural key) for TodayOf.
	jurisdictions sync.Map

	// summaryReady is set once every invoice is counted in the summary
	// aggregates (PrepareSummaries). (Every summary ages on the default
	// bucket edges, whatever a policy's own, so the aggregates serve any
	// policy set.)
	summaryReady atomic.Bool
	// fingerprint stands for the policy data and the rules' code
	// (judgement.RulesVersion) the profiles are computed under.
	fingerprint string
}

// New returns the service over an open store, judging debts by the
// policies of reg.
func New(s store.Store, c clock.Clock, reg *policy.Registry, log *slog.Logger) *Ledger {
	return &Ledger{store: s, clock: c, policies: reg, log: log, zones: map[string]*time.Location{},
		fingerprint: reg.Fingerprint() + "+rules." + strconv.Itoa(judgement.RulesVersion)}
}

// RequestRetention is how long idempotency keys are honoured at least; the
// janitor purges them after twice that.
const RequestRetention = 24 * time.Hour

// Idempotency identifies a create request that a client may retry: Key is
// the method and the client's request id, Hash a digest of the request.
// The zero value means the client sent no request id.
type Idempotency struct {
	Key  string
	Hash string
}

// PartyRef names a party by id or by its natural key.
type PartyRef struct {
	ID             uuid.UUID
	Jurisdiction   string
	RegistrationID string
}

// String renders the reference for messages.
func (r PartyRef) String() string {
	if r.ID != uuid.Nil {
		return "parties/" + r.ID.String()
	}
	return "parties/" + r.Jurisdiction + ":" + r.RegistrationID
}

// Etag is the opaque version tag of a record.
func Etag(version int64) string { return strconv.FormatInt(version, 10) }

// checkEtag fails with ErrStale when the client sent an etag that is not
// the record's current one; an empty etag means "whatever is current".
func checkEtag(given string, version int64) error {
	if given != "" && given != Etag(version) {
		return fmt.Errorf("%w: the record changed since it was read (etag %s, now %s)", ledger.ErrStale, given, Etag(version))
	}
	return nil
}

// location returns the time zone of a jurisdiction's business dates.
func (l *Ledger) location(jurisdiction string) *time.Location {
	l.zonesMu.Lock()
	defer l.zonesMu.Unlock()
	if loc, ok := l.zones[jurisdiction]; ok {
		return loc
	}
	loc, err := time.LoadLocation(regid.Timezone(jurisdiction))
	if err != nil {
		// tzdata is embedded in the binary, so this means an unknown
		// jurisdiction slipped through; UTC keeps the answer defined.
		l.log.Error("no time zone for jurisdiction", "jurisdiction", jurisdiction, "err", err)
		loc = time.UTC
	}
	l.zones[jurisdiction] = loc
	return loc
}

// Today is the current civil date in a jurisdiction.
func (l *Ledger) Today(now time.Time, jurisdiction string) civil.Date {
	return civil.DateOf(now, l.location(jurisdiction))
}

// scope is what the caller in ctx may see. No caller sees nothing: every
// request is authenticated, and background work runs as System.
func scope(ctx context.Context) auth.Scope {
	if p := auth.FromContext(ctx); p != nil {
		return p.Scope()
	}
	return auth.Scope{}
}

// System is the principal of the server's own work (the demo loader, the
// sweeper): an administrator that the audit trail names "ADMIN:system".
var System = &auth.Principal{Role: auth.RoleAdmin, Prefix: "system"}

// visibleInvoice reads an invoice the caller may see; any other answers
// ErrNotFound, so existence does not leak.
func visibleInvoice(ctx context.Context, r store.Reader, id uuid.UUID, lock func(context.Context, uuid.UUID) (*ledger.Invoice, error)) (*ledger.Invoice, error) {
	ok, err := r.InvoiceVisible(ctx, scope(ctx), id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ledger.ErrNotFound
	}
	if lock != nil {
		return lock(ctx, id)
	}
	return r.GetInvoice(ctx, id)
}

// notBefore is now, or a record's last change if that is later, for a
// change made under the record's lock: the clock is read before the lock
// is taken (and another replica's clock may run ahead), and a change
// committed after another must not carry an earlier record time, or a read
// as known at a time between the two would see the later change and not
// the earlier.
func notBefore(now, last time.Time) time.Time {
	if now.Before(last) {
		return last
	}
	return now
}

// visibleParty resolves a party reference the caller may see.
func visibleParty(ctx context.Context, r store.Reader, ref PartyRef) (*ledger.Party, error) {
	p, err := resolveParty(ctx, r, ref)
	if err != nil {
		return nil, err
	}
	ok, err := r.PartyVisible(ctx, scope(ctx), p.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, ledger.ErrNotFound
	}
	return p, nil
}

// visibleDebtor is visibleParty for a report on a debtor's own payables (a
// disclosure, a payment-practice report): the caller must see all of them,
// as the debtor itself, a regulator whose remit covers it, or an operator.
// A party seen only as another's counterparty is not found, rather than
// reported on from the few invoices the caller sees, which would read as
// a debtor with nothing overdue.
func visibleDebtor(ctx context.Context, r store.Reader, ref PartyRef) (*ledger.Party, error) {
	p, err := visibleParty(ctx, r, ref)
	if err != nil {
		return nil, err
	}
	sc := scope(ctx)
	if sc.All || contains(sc.Debtors, p.ID) || (sc.Remit != nil && sc.Remit.Covers(p.Jurisdiction, p.RegionCode)) {
		return p, nil
	}
	return nil, ledger.ErrNotFound
}

// resolveParty finds a referenced party.
func resolveParty(ctx context.Context, r store.Reader, ref PartyRef) (*ledger.Party, error) {
	if ref.ID != uuid.Nil {
		return r.GetParty(ctx, ref.ID)
	}
	return r.GetPartyByRegistration(ctx, ref.Jurisdiction, ref.RegistrationID)
}

// ResolveParty returns the party a reference names.
func (l *Ledger) ResolveParty(ctx context.Context, ref PartyRef) (*ledger.Party, error) {
	return resolveParty(ctx, l.store, ref)
}

// replay looks up an idempotency key inside a transaction: found with the
// same hash, it returns the id of what the first request created; with
// another hash, ErrAlreadyExists.
func replay(ctx context.Context, tx store.Tx, idem Idempotency) (uuid.UUID, bool, error) {
	if idem.Key == "" {
		return uuid.Nil, false, nil
	}
	r, err := tx.GetRequest(ctx, idem.Key)
	if errors.Is(err, ledger.ErrNotFound) {
		return uuid.Nil, false, nil
	}
	if err != nil {
		return uuid.Nil, false, err
	}
	if r.RequestHash != idem.Hash {
		return uuid.Nil, false, fmt.Errorf("%w: request_id was already used for a different request", ledger.ErrAlreadyExists)
	}
	return r.ResourceID, true, nil
}

// remember stores an idempotency key in the creating transaction.
func remember(ctx context.Context, tx store.Tx, idem Idempotency, id uuid.UUID, now time.Time) error {
	if idem.Key == "" {
		return nil
	}
	return tx.PutRequest(ctx, &store.Request{Key: idem.Key, RequestHash: idem.Hash, ResourceID: id, CreateTime: now})
}

// PurgeRequests drops idempotency keys older than twice RequestRetention.
func (l *Ledger) PurgeRequests(ctx context.Context) (int64, error) {
	return l.store.PurgeRequests(ctx, l.clock.Now().Add(-2*RequestRetention))
}

// PurgeSyncSessions drops the sync sessions that have not moved for
// retention, with their rejections: a client resuming one after that
// starts it afresh, its records compared with the ledger again (UNCHANGED
// where it still holds them so, updated where it does not).
func (l *Ledger) PurgeSyncSessions(ctx context.Context, retention time.Duration) (int64, error) {
	return l.store.PurgeSyncSessions(ctx, l.clock.Now().Add(-retention))
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// listPage is how many rows a walk through a whole listing reads at once.
const listPage = 500

// listed yields every row of a listing, read a page of listPage rows at a
// time: list reads the page p holds (p is the query's own Page, which the
// walk moves past each page read), and id names a row, for the next page
// to start after. A read that fails is yielded as its error, and the walk
// ends there.
func listed[T any](p *store.Page, list func() ([]T, error), id func(T) uuid.UUID) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		p.Limit = listPage
		for {
			rows, err := list()
			if err != nil {
				var none T
				yield(none, err)
				return
			}
			for _, r := range rows {
				if !yield(r, nil) {
					return
				}
			}
			if len(rows) < p.Limit {
				return
			}
			p.AfterID = id(rows[len(rows)-1])
		}
	}
}

// The ids that page listings, for listed.
func claimID(c *complaint.Claim) uuid.UUID         { return c.ID }
func complaintID(c *complaint.Complaint) uuid.UUID { return c.ID }
func contestID(c *complaint.Contest) uuid.UUID     { return c.ID }
func partyID(p *ledger.Party) uuid.UUID            { return p.ID }
func keyID(k *auth.Key) uuid.UUID                  { return k.ID }

// TodayUTC is today's date in UTC, for defaults that belong to no
// jurisdiction (an operator's view across all of them).
func (l *Ledger) TodayUTC() civil.Date { return civil.DateOf(l.now(), time.UTC) }

// TodayOf is today in party id's jurisdiction: business dates such as a
// claim's submission are that party's civil dates, so ages count in it.
func (l *Ledger) TodayOf(ctx context.Context, id uuid.UUID) (civil.Date, error) {
	j, ok := l.jurisdictions.Load(id)
	if !ok {
		p, err := l.store.GetParty(ctx, id)
		if err != nil {
			return civil.Date{}, err
		}
		j = p.Jurisdiction
		l.jurisdictions.Store(id, j)
	}
	return l.Today(l.now(), j.(string)), nil
}

// CallerToday is the default "as of" of a caller's reports: today in its
// remit's jurisdiction for a regulator, in its own party's for a debtor or
// supplier, and in UTC for an operator or portal, whose view spans
// jurisdictions.
func (l *Ledger) CallerToday(ctx context.Context) (civil.Date, error) {
	p := auth.FromContext(ctx)
	switch {
	case p == nil:
		return l.TodayUTC(), nil
	case p.Remit.Jurisdiction != "":
		return l.Today(l.now(), p.Remit.Jurisdiction), nil
	case len(p.Parties) > 0:
		return l.TodayOf(ctx, p.Parties[0])
	}
	return l.TodayUTC(), nil
}

// Now is the service's clock reading, for tools that place data relative
// to today (the demo loader).
func (l *Ledger) Now() time.Time { return l.now() }

// now reads the clock once per request, at the microsecond precision both
// stores keep, so a record reads back exactly as it was returned.
func (l *Ledger) now() time.Time { return l.clock.Now().UTC().Truncate(time.Microsecond) }

// change describes a change to inv or one of its facts: who made it (the
// caller in ctx) and where its audit event goes (the invoice's parties).
func change(ctx context.Context, inv *ledger.Invoice, eff civil.Date, now time.Time, method string) store.Change {
	return store.Change{EffectiveOn: eff, RecordTime: now, Method: method, Actor: actor(ctx),
		Debtor: inv.DebtorID, Creditor: inv.CreditorID}
}

// partyChange describes a change to a party; the store chains it to the
// party itself.
func partyChange(ctx context.Context, eff civil.Date, now time.Time, method string) store.Change {
	return store.Change{EffectiveOn: eff, RecordTime: now, Method: method, Actor: actor(ctx)}
}

// timelineChange is the audit record of a line added to complaint c's
// timeline, on the debtor's chain like the complaint's own changes.
func timelineChange(ctx context.Context, c *complaint.Complaint, eff civil.Date, now time.Time, method string) store.Change {
	ch := partyChange(ctx, eff, now, method)
	ch.Debtor, ch.Creditor = c.Debtor, c.Complainant
	return ch
}

// actor names the caller for the audit trail.
func actor(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil {
		return p.Actor()
	}
	return "system"
}
