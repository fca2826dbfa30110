// Package store is the storage contract of the arrears ledger: the
// interfaces every engine implements, the queries they answer and the errors
// they return. Engines live beside it (sqlite, postgres, both built on
// sqlstore); storetest is the conformance suite they all pass.
//
// Errors are the ledger package's sentinels: ledger.ErrNotFound for a missing
// row, ledger.ErrAlreadyExists for a taken unique key, ledger.ErrConflict when
// a concurrent transaction changed a row being updated, ledger.ErrUnavailable
// when the database cannot serve; ErrUndecodable for a stored document that
// does not decode. Anything else is an internal failure whose text must not
// reach a client.
package store

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/audit"
	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/complaint"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/summary"
)

// ErrUndecodable is a stored document (a claim, contest, complaint or its
// event) that does not decode: damaged, or written by a newer release. A
// reader that can do without it (a recheck beside the change it serves)
// passes over it; everything else fails on it as on any internal error.
var ErrUndecodable = errors.New("stored document does not decode")

// DueCursor is where a listing of due rows resumes: after the row checked
// on On with id ID. The zero cursor starts at the beginning.
type DueCursor struct {
	On civil.Date
	ID uuid.UUID
}

// beforeRetryKey carries WithBeforeRetry's function.
type beforeRetryKey struct{}

// WithBeforeRetry returns ctx carrying f, which ReadWriteTx calls before it
// runs a transaction again, outside any transaction: a rerun that must
// wait for something (the sync's chunk before) waits there, holding no
// connection and no locks. An error from f ends the retries with it.
func WithBeforeRetry(ctx context.Context, f func(ctx context.Context) error) context.Context {
	return context.WithValue(ctx, beforeRetryKey{}, f)
}

// BeforeRetry is the function WithBeforeRetry put in ctx, or nil.
func BeforeRetry(ctx context.Context) func(ctx context.Context) error {
	f, _ := ctx.Value(beforeRetryKey{}).(func(ctx context.Context) error)
	return f
}

// Store is an open ledger database.
type Store interface {
	Reader

	// ReadWriteTx runs f in one transaction, committing when f returns nil
	// and rolling back otherwise. When the transaction loses a race
	// (ledger.ErrConflict from an update or a unique request key, or the
	// engine's serialization failure) the store runs f again in a fresh
	// transaction, a bounded number of times: f MUST be safe to repeat,
	// reading what it needs through tx each time.
	ReadWriteTx(ctx context.Context, f func(ctx context.Context, tx Tx) error) error

	// SnapshotRead runs f with a reader that sees one snapshot of the
	// database throughout, whatever commits meanwhile: for reads that must
	// agree with each other across many statements (verifying the audit
	// trail of a live database). It writes nothing and takes no locks that
	// hold up writers, but a long one holds back the engine's cleanup
	// (PostgreSQL's vacuum horizon, SQLite's checkpoints) while it runs.
	SnapshotRead(ctx context.Context, f func(ctx context.Context, r Reader) error) error

	// Secret returns the named server secret (e.g. the page-token key),
	// creating it from random bytes on first use. Every replica on the same
	// database gets the same value.
	Secret(ctx context.Context, name string) ([]byte, error)

	// PutCheckpoint stores a signed checkpoint.
	PutCheckpoint(ctx context.Context, cp *audit.Checkpoint) error

	// PurgeRequests deletes idempotency records created before cutoff and
	// returns how many it deleted.
	PurgeRequests(ctx context.Context, cutoff time.Time) (int64, error)
	// PurgeSyncSessions deletes the sync sessions last moved before cutoff,
	// with their rejections, and returns how many sessions went.
	PurgeSyncSessions(ctx context.Context, cutoff time.Time) (int64, error)

	// ConcurrentWriters says whether write transactions run side by side
	// (PostgreSQL and its kin) or one at a time (SQLite): a bulk sync
	// overlaps its chunks only where they do.
	ConcurrentWriters() bool

	// Ping checks that the database answers.
	Ping(ctx context.Context) error

	// Close releases the database.
	Close() error
}

// Reader is the read side, available on the store and inside a transaction.
// Every Get returns ledger.ErrNotFound when no row matches. Lists return at
// most q.Limit rows in ascending id order, after q.AfterID.
type Reader interface {
	GetParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error)
	GetPartyByRegistration(ctx context.Context, jurisdiction, registrationID string) (*ledger.Party, error)
	ListParties(ctx context.Context, q PartyQuery) ([]*ledger.Party, error)

	GetInvoice(ctx context.Context, id uuid.UUID) (*ledger.Invoice, error)
	ListInvoices(ctx context.Context, q InvoiceQuery) ([]*ledger.Invoice, error)

	GetCreditNote(ctx context.Context, id uuid.UUID) (*ledger.CreditNote, error)
	ListCreditNotes(ctx context.Context, invoiceID uuid.UUID, p Page) ([]*ledger.CreditNote, error)

	GetPayment(ctx context.Context, id uuid.UUID) (*ledger.Payment, error)
	GetPaymentByReference(ctx context.Context, debtorID uuid.UUID, reference string) (*ledger.Payment, error)
	ListPayments(ctx context.Context, q PaymentQuery) ([]*ledger.Payment, error)

	GetDispute(ctx context.Context, id uuid.UUID) (*ledger.Dispute, error)
	ListDisputes(ctx context.Context, q DisputeQuery) ([]*ledger.Dispute, error)

	// ListRevisions lists a resource's revisions with revision > after,
	// oldest first.
	ListRevisions(ctx context.Context, resourceID uuid.UUID, after int64, limit int) ([]*ledger.Revision, error)
	// RevisionsOf reads all revisions of many resources at once, each
	// resource's oldest first.
	RevisionsOf(ctx context.Context, resourceIDs []uuid.UUID) (map[uuid.UUID][]*ledger.Revision, error)
	// RevisionsAt reads the named revisions of many resources at once;
	// one not stored is absent from the map.
	RevisionsAt(ctx context.Context, keys []RevisionKey) (map[RevisionKey]*ledger.Revision, error)

	// GetRequest returns the idempotency record for key.
	GetRequest(ctx context.Context, key string) (*Request, error)

	// InvoiceVisible reports whether an invoice exists within scope;
	// PartyVisible the same for a party (its own, a counterparty of a
	// visible invoice, or within a regulator's remit).
	InvoiceVisible(ctx context.Context, scope auth.Scope, id uuid.UUID) (bool, error)
	PartyVisible(ctx context.Context, scope auth.Scope, id uuid.UUID) (bool, error)

	// GetKey finds an API key by its public prefix.
	GetKey(ctx context.Context, prefix string) (*auth.Key, error)
	// ListKeys lists keys in creation order.
	ListKeys(ctx context.Context, p Page) ([]*auth.Key, error)
	// KeyAuditSnapshot is key id as its audit events record it (never its
	// secret's hash, a digest of it as the last member), for audit
	// verification to compare with the trail.
	KeyAuditSnapshot(ctx context.Context, id uuid.UUID) ([]byte, error)
	// CountKeys counts keys, revoked ones included.
	CountKeys(ctx context.Context) (int64, error)
	// PortalAuthorized reports whether creditor has authorised portal.
	PortalAuthorized(ctx context.Context, portal string, creditor uuid.UUID) (bool, error)
	// PortalGrants lists every portal authorisation, for audit
	// verification to compare with the trail.
	PortalGrants(ctx context.Context) ([]PortalGrant, error)

	// ListEvents is the change feed: audit events within q.Scope with
	// event ids after q.After, recorded at or before q.Until (to the
	// millisecond), in event id order, which is record-time order.
	ListEvents(ctx context.Context, q EventQuery) ([]*audit.Event, error)
	// ChainHeads returns the last event of every audit chain.
	ChainHeads(ctx context.Context) ([]audit.Head, error)
	// ListChainEvents returns a chain's events with seq > after (from
	// math.MinInt64: every event, that one included), in order.
	ListChainEvents(ctx context.Context, chain uuid.UUID, after int64, limit int) ([]*audit.Event, error)
	// LatestCheckpoint returns the newest signed checkpoint.
	LatestCheckpoint(ctx context.Context) (*audit.Checkpoint, error)
	// CheckpointCovers reports whether a checkpoint signed by publicKey
	// (base64) covers chain heads of this digest (events are only ever
	// added, so one that does is of the state now), or, with since set,
	// was signed at or after since.
	CheckpointCovers(ctx context.Context, digest, publicKey string, since time.Time) (bool, error)
	// ListCheckpoints returns every checkpoint, oldest first.
	ListCheckpoints(ctx context.Context) ([]*audit.Checkpoint, error)

	// Facts loads the payments, credit notes and disputes of invoices.
	Facts(ctx context.Context, invoiceIDs []uuid.UUID) (map[uuid.UUID]*Facts, error)
	// GetEscalation reads an invoice's escalation bookkeeping.
	GetEscalation(ctx context.Context, invoiceID uuid.UUID) (*ledger.Escalation, error)
	// EscalationsOf reads many invoices' escalation rows at once; an
	// invoice without one is absent.
	EscalationsOf(ctx context.Context, invoiceIDs []uuid.UUID) (map[uuid.UUID]*ledger.Escalation, error)
	// EscalationEventsOf reads many invoices' escalation histories at once,
	// each in the order ListEscalationEvents gives.
	EscalationEventsOf(ctx context.Context, invoiceIDs []uuid.UUID) (map[uuid.UUID][]*ledger.EscalationEvent, error)
	// DueEscalations lists escalation rows with next_check on or before
	// through, in (next_check, invoice) order after the cursor: the
	// sweeper's work, found by index and paged by key.
	DueEscalations(ctx context.Context, through civil.Date, after DueCursor, limit int) ([]*ledger.Escalation, error)
	// ListEscalationEvents lists an invoice's escalation history.
	ListEscalationEvents(ctx context.Context, invoiceID uuid.UUID, p Page) ([]*ledger.EscalationEvent, error)

	// The supplier's side: claims, contests and complaints, each within
	// q.Scope like invoices (by debtor and creditor).
	GetClaim(ctx context.Context, id uuid.UUID) (*complaint.Claim, error)
	ListClaims(ctx context.Context, q SupplierQuery) ([]*complaint.Claim, error)
	GetContest(ctx context.Context, id uuid.UUID) (*complaint.Contest, error)
	ListContests(ctx context.Context, q SupplierQuery) ([]*complaint.Contest, error)
	GetComplaint(ctx context.Context, id uuid.UUID) (*complaint.Complaint, error)
	// GetComplaintEvent reads one line of a complaint's timeline.
	GetComplaintEvent(ctx context.Context, id uuid.UUID) (*complaint.Event, error)
	// DocColumnsDiffer names the first indexed column of a claim, contest
	// or complaint row that disagrees with the record's document (its
	// audited form), "" when none does: lists, scopes and the sweeper read
	// those columns, and an edit of them alone leaves the document intact.
	DocColumnsDiffer(ctx context.Context, typ ledger.ResourceType, id uuid.UUID) (string, error)
	ListComplaints(ctx context.Context, q SupplierQuery) ([]*complaint.Complaint, error)
	// DueComplaints lists complaints whose next check has come (a deadline
	// passing, an instalment falling due, the automatic close), in
	// (next_check, id) order after the cursor.
	DueComplaints(ctx context.Context, through civil.Date, after DueCursor, limit int) ([]DueCursor, error)
	ListComplaintEvents(ctx context.Context, complaintID uuid.UUID, p Page) ([]*complaint.Event, error)

	// InvoicesOf reads many invoices by id at once; an unknown id is absent.
	InvoicesOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Invoice, error)
	// PaymentsOf reads many payments by id at once; an unknown id is absent.
	PaymentsOf(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]*ledger.Payment, error)
	// GetInvoiceByDocumentRef finds a debtor's invoice by its reference.
	GetInvoiceByDocumentRef(ctx context.Context, debtorID uuid.UUID, ref string) (*ledger.Invoice, error)
	// InvoicesByDocumentRef reads a debtor's invoices by reference, in bulk.
	InvoicesByDocumentRef(ctx context.Context, debtorID uuid.UUID, refs []string) (map[string]*ledger.Invoice, error)
	// PaymentsByReference reads a debtor's payments by reference, in bulk;
	// a reference no payment uses is absent.
	PaymentsByReference(ctx context.Context, debtorID uuid.UUID, refs []string) (map[string]*ledger.Payment, error)
	// PartiesByRegistration reads parties by (jurisdiction, registration id).
	PartiesByRegistration(ctx context.Context, keys [][2]string) (map[[2]string]*ledger.Party, error)
	// GetSyncSession reads a debtor's named sync session.
	GetSyncSession(ctx context.Context, debtorID uuid.UUID, session string) (*SyncSession, error)
	// ListSyncRejections lists up to limit of the records a session
	// rejected with sequence > after, in sequence order.
	ListSyncRejections(ctx context.Context, debtorID uuid.UUID, session string, after int64, limit int) ([]*SyncRejection, error)
	// CountSyncRejections counts the records a session rejected.
	CountSyncRejections(ctx context.Context, debtorID uuid.UUID, session string) (int64, error)

	// SummaryNodes sums the summary aggregates over the given nodes, per
	// group matching q.
	SummaryNodes(ctx context.Context, q NodeQuery) ([]NodeSum, error)
	// SummaryChangedAfter reports whether any invoice's profile changed
	// after t: the aggregates then hold facts recorded after t.
	SummaryChangedAfter(ctx context.Context, t time.Time) (bool, error)
	// SummaryState reads a named fact about the summary aggregates ("" if
	// unset).
	SummaryState(ctx context.Context, name string) (string, error)
	// InvoicesWithoutProfile lists up to limit invoices after after, in id
	// order, whose profile was never counted in the aggregates (written
	// before they existed).
	InvoicesWithoutProfile(ctx context.Context, after uuid.UUID, limit int) ([]uuid.UUID, error)
}

// NodeQuery selects summary aggregates: the nodes of one date's prefix
// path, and the groups of a remit and filters (empty: any). ByDebtor reads
// the aggregates kept per debtor (those of Debtors, if any).
type NodeQuery struct {
	Nodes        []int32
	ByDebtor     bool
	Debtors      []uuid.UUID
	Jurisdiction string
	RegionPrefix string
	DebtorKind   string
	Currency     string
}

// NodeSum is the sum of one group's nodes.
type NodeSum struct {
	Key summary.Key
	M   summary.Measures
	// Overflow is set where a figure's total is beyond the int64 range
	// (M then holds no total of it).
	Overflow bool
	// Marked is set where a change was not added to one of the group's
	// stored figures, as it would have left the range: M is then not the
	// group's total, which only the invoices give.
	Marked bool
}

// ProfileChange replaces an invoice's summary profile.
type ProfileChange struct {
	InvoiceID, DebtorID uuid.UUID
	Profile             summary.Profile
	// New says the invoice had no profile yet.
	New bool
}

// SyncSession is the durable resume point of a bulk sync: the highest
// record sequence committed, stored with the records themselves.
type SyncSession struct {
	DebtorID   uuid.UUID
	Session    string
	AckedSeq   int64
	Records    int64
	Version    int64
	CreateTime time.Time
	UpdateTime time.Time
	// ResumeCheck is the client's check of the records up to AckedSeq,
	// opaque to the server (SyncOpened.resume_check).
	ResumeCheck string
}

// SyncRejection is a record a sync session rejected: its sequence, its
// document reference as sent, and why.
type SyncRejection struct {
	Sequence    int64
	DocumentRef string
	Problems    []ledger.FieldViolation
}

// SupplierQuery selects claims, contests or complaints; nil uuids mean any.
// For complaints the creditor is the complainant.
type SupplierQuery struct {
	Page
	Scope      auth.Scope
	DebtorID   uuid.UUID
	CreditorID uuid.UUID
	InvoiceID  uuid.UUID
	State      []StringCond
}

// Facts are the dated facts recorded about one invoice.
type Facts struct {
	Payments    []ledger.Payment
	CreditNotes []ledger.CreditNote
	Disputes    []ledger.Dispute
}

// Tx is a read-write transaction. Create methods set Version to 1; Update
// methods take the record with the Version that was read and fail with
// ledger.ErrConflict if the stored version moved on, then store Version+1.
// Every create and update also appends a revision (the record's JSON
// snapshot with rev's effective date) and an audit event in the same
// transaction, and UpdateInvoice brings the invoice's escalation check
// forward to the change's effective date, so the sweeper re-judges it.
type Tx interface {
	Reader

	// LockInvoice reads an invoice and holds it against concurrent writers
	// until the transaction ends, so checks against its totals (a payment
	// may not exceed what is outstanding) hold at commit.
	LockInvoice(ctx context.Context, id uuid.UUID) (*ledger.Invoice, error)
	// ShareParty reads a party and keeps it from changing until the
	// transaction ends (a shared lock: other readers that lock it too go
	// on). Summary profiles are computed from the debtor's region and
	// kind; a change to them must wait until the profiles computed from
	// the old ones are committed, and then recounts them.
	ShareParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error)
	// LockInvoices locks the invoices, and then their escalation rows,
	// against others locking or changing them until the transaction
	// ends, taking them in id order: writers of many invoices at once
	// (sync chunks) that lock them so queue rather than deadlock, with
	// each other and with the sweeper. Ids of no invoice are passed over.
	LockInvoices(ctx context.Context, ids []uuid.UUID) error
	// LockParty reads a party locked until the transaction ends against
	// others locking or changing it: the writers of what must be unique
	// among a party's records and has no key to say so (a supplier's
	// claims under one reference) take it in turn.
	LockParty(ctx context.Context, id uuid.UUID) (*ledger.Party, error)

	CreateParty(ctx context.Context, p *ledger.Party, rev Change) error
	UpdateParty(ctx context.Context, p *ledger.Party, rev Change) error

	CreateInvoice(ctx context.Context, inv *ledger.Invoice, rev Change) error
	UpdateInvoice(ctx context.Context, inv *ledger.Invoice, rev Change) error

	CreateCreditNote(ctx context.Context, cn *ledger.CreditNote, c Change) error

	CreatePayment(ctx context.Context, p *ledger.Payment, rev Change) error
	UpdatePayment(ctx context.Context, p *ledger.Payment, rev Change) error

	CreateDispute(ctx context.Context, d *ledger.Dispute, rev Change) error
	UpdateDispute(ctx context.Context, d *ledger.Dispute, rev Change) error

	// CreateKey stores a new API key; RevokeKey records its revocation.
	// Both are audited on the system chain.
	CreateKey(ctx context.Context, k *auth.Key, c Change) error
	RevokeKey(ctx context.Context, k *auth.Key, c Change) error
	// LockAdminKeys reads the admin keys not revoked, locked until the
	// transaction ends: two revocations of the last two admin keys then
	// run one after the other, and the second sees the first.
	LockAdminKeys(ctx context.Context) ([]*auth.Key, error)
	// AuthorizePortal records that creditor lets portal act for it.
	AuthorizePortal(ctx context.Context, portal string, creditor uuid.UUID, c Change) error
	// RevokePortal withdraws that authorisation; ledger.ErrNotFound if
	// there was none.
	RevokePortal(ctx context.Context, portal string, creditor uuid.UUID, c Change) error
	// ClaimOnce records that a one-time step named name is done, and
	// reports whether this transaction was the first to claim it: of two
	// replicas bootstrapping at once, only one goes ahead.
	ClaimOnce(ctx context.Context, name string) (bool, error)

	// PutEscalation inserts (Version 0) or updates (at the Version read,
	// else ledger.ErrConflict) an invoice's escalation bookkeeping.
	PutEscalation(ctx context.Context, e *ledger.Escalation) error
	// PutEscalations updates many escalation rows at once, each at the
	// Version read; one changed meanwhile is ledger.ErrConflict.
	PutEscalations(ctx context.Context, es []*ledger.Escalation) error
	// AddEscalationEvents records escalation changes in bulk, each audited
	// on its debtor's chain as changes[i] says (its debtor and creditor). An
	// id taken already is ledger.ErrConflict. That each change is recorded
	// once is the sweeper's to ensure, through the escalation row's version
	// moved in the same transaction.
	AddEscalationEvents(ctx context.Context, events []*ledger.EscalationEvent, changes []Change) error

	// Create and Update the supplier-side records; updates are versioned
	// like the rest, and every change is revised and audited.
	CreateClaim(ctx context.Context, c *complaint.Claim, ch Change) error
	UpdateClaim(ctx context.Context, c *complaint.Claim, ch Change) error
	CreateContest(ctx context.Context, c *complaint.Contest, ch Change) error
	UpdateContest(ctx context.Context, c *complaint.Contest, ch Change) error
	CreateComplaint(ctx context.Context, c *complaint.Complaint, ch Change) error
	UpdateComplaint(ctx context.Context, c *complaint.Complaint, ch Change) error
	// AddComplaintEvent appends a line to a complaint's timeline, audited
	// on the debtor's chain as ch says (the complaint's debtor and
	// complainant).
	AddComplaintEvent(ctx context.Context, e *complaint.Event, ch Change) error

	// CreateInvoices records many new invoices with everything CreateInvoice
	// writes for each (revision, audit event, and checks[i] as the
	// escalation row of invs[i]), and their payments with what
	// CreatePayment writes, loading them in bulk (COPY on PostgreSQL). The
	// invoices' paid totals already count the payments. A reference taken
	// meanwhile is ledger.ErrConflict, so the chunk reruns.
	CreateInvoices(ctx context.Context, invs []*ledger.Invoice, checks []ledger.Escalation, payments []*ledger.Payment, c Change) error
	// CreatePayments records many new payments of invoices (creditors maps
	// each invoice to its creditor) with everything CreatePayment writes:
	// their first revisions, effective on the day paid, and their audit
	// events. Their invoices are updated apart. A reference taken meanwhile
	// is ledger.ErrConflict.
	CreatePayments(ctx context.Context, payments []*ledger.Payment, creditors map[uuid.UUID]uuid.UUID, c Change) error
	// UpdateInvoices rewrites many invoices with everything UpdateInvoice
	// writes for each (revision, audit event, escalation check brought
	// forward to c.EffectiveOn), set-based where the engine allows. Each
	// must still be at its Version, else ledger.ErrConflict and the
	// transaction reruns; each then moves to the next version. A caller
	// that may run beside other writers of the same invoices locks them
	// first (LockInvoices): the bulk writes lock rows in their plan's order.
	UpdateInvoices(ctx context.Context, invs []*ledger.Invoice, c Change) error

	// PutSummaryState sets a named fact about the summary aggregates; with
	// replace false, only if it is unset.
	PutSummaryState(ctx context.Context, name, value string, replace bool) error
	// LockSummaryProfiles reads invoices' stored summary profiles (an
	// invoice without one is absent from the map) and holds
	// them until the transaction ends: a change computed against them is
	// then not lost to a concurrent one (a debtor moving region while its
	// invoice is paid).
	LockSummaryProfiles(ctx context.Context, ids []uuid.UUID) (map[uuid.UUID]summary.Profile, error)
	// PutSummaryProfiles stores invoices' new profiles, changed at t, and
	// adds what they change to the summary aggregates: nodes per debtor as
	// given, and rolled up over debtors, written at commit (all of the
	// transaction's at once, in one order) and dropped with a savepoint
	// rolled back to.
	PutSummaryProfiles(ctx context.Context, ps []ProfileChange, nodes []summary.NodeChange, t time.Time) error

	// PutSyncSession inserts (Version 0) or moves on (at the Version read,
	// else ledger.ErrConflict) a sync session.
	PutSyncSession(ctx context.Context, s *SyncSession) error
	// PutSyncRejections keeps the records of a chunk of a session that were
	// rejected, with the chunk: each sequence once in a session, else
	// ledger.ErrConflict.
	PutSyncRejections(ctx context.Context, debtorID uuid.UUID, session string, rs []*SyncRejection) error
	// Savepoint, RollbackTo and Release isolate one record of a bulk write
	// inside the transaction: a failed record is rolled back alone.
	Savepoint(ctx context.Context, name string) error
	RollbackTo(ctx context.Context, name string) error
	Release(ctx context.Context, name string) error

	// PutRequest records an idempotency key. A key already present is
	// ledger.ErrConflict, so that the racing transaction retries and finds
	// the first request's record.
	PutRequest(ctx context.Context, r *Request) error
}

// Change describes who changed a record and why, for its revision and its
// audit event.
type Change struct {
	// Actor is the principal ("ROLE:prefix", or "system").
	Actor string
	// Debtor and Creditor place the event: its audit chain is the
	// debtor's, and both parties (and regulators of the debtor) see it in
	// their change feed. For a party's own events both are the party.
	Debtor   uuid.UUID
	Creditor uuid.UUID
	// EffectiveOn is the business date from which the change holds.
	EffectiveOn civil.Date
	// RecordTime is when the change was recorded (the service's clock).
	RecordTime time.Time
	// Method is the API method that made it.
	Method string
}

// Request is an idempotency record: the first request made under Key, by
// its hash, and the resource it created.
type Request struct {
	Key         string
	RequestHash string
	ResourceID  uuid.UUID
	CreateTime  time.Time
}

// Page bounds a list: rows with id greater than AfterID, at most Limit.
type Page struct {
	AfterID uuid.UUID
	Limit   int
}

// Op is a comparison in a list filter.
type Op string

const (
	OpEq     Op = "="
	OpNe     Op = "!="
	OpLt     Op = "<"
	OpLe     Op = "<="
	OpGt     Op = ">"
	OpGe     Op = ">="
	OpPrefix Op = "prefix"
)

// StringCond compares a text column.
type StringCond struct {
	Op    Op
	Value string
}

// DateCond compares a date column.
type DateCond struct {
	Op    Op
	Value civil.Date
}

// PartyQuery selects parties; every condition must hold.
type PartyQuery struct {
	Page
	Scope        auth.Scope
	Jurisdiction []StringCond
	Kind         []StringCond
	SizeClass    []StringCond
	RegionCode   []StringCond
	IndustryCode []StringCond
	// RegistrationID holds, per condition, the forms the identifier may be
	// stored in: each condition matches a party whose id is one of them.
	RegistrationID [][]string
}

// InvoiceQuery selects invoices; a nil uuid means any.
type InvoiceQuery struct {
	Page
	Scope       auth.Scope
	DebtorID    uuid.UUID
	CreditorID  uuid.UUID
	Status      []StringCond
	Currency    []StringCond
	DocumentRef []StringCond
	DueDate     []DateCond
	// Status, Currency and DueDate select on the row as it stands now. A
	// caller showing invoices as they stood at an earlier instant sets
	// ChangedAfter to it: a row updated since then passes those three
	// conditions whatever its current values, and the caller checks them
	// on the invoice as it shows it (MatchStored).
	ChangedAfter time.Time
}

// Unsettled reports whether inv may be shown with other stored fields than
// its row's now (see ChangedAfter), so that the stored-field conditions
// were not applied to it by the store.
func (q *InvoiceQuery) Unsettled(inv *ledger.Invoice) bool {
	return !q.ChangedAfter.IsZero() && inv.UpdateTime.After(q.ChangedAfter)
}

// MatchStored reports whether inv, as the caller shows it, meets the
// query's Status, Currency and DueDate conditions as the stores apply
// them: a missing due date meets no condition, and text compares by byte,
// which for these values (capital letters only) is every collation's order.
func (q *InvoiceQuery) MatchStored(inv *ledger.Invoice) bool {
	return matchStrings(q.Status, string(inv.Status)) && matchStrings(q.Currency, inv.Amount.Currency) &&
		matchDates(q.DueDate, inv.DueDate)
}

func matchStrings(cs []StringCond, v string) bool {
	for _, c := range cs {
		var ok bool
		switch c.Op {
		case OpPrefix:
			ok = strings.HasPrefix(v, c.Value)
		default:
			ok = c.Op.holds(strings.Compare(v, c.Value))
		}
		if !ok {
			return false
		}
	}
	return true
}

func matchDates(cs []DateCond, v civil.Date) bool {
	for _, c := range cs {
		if v.IsZero() {
			// No date is on no day: only "!=" holds for it.
			if c.Op != OpNe {
				return false
			}
			continue
		}
		if !c.Op.holds(v.Compare(c.Value)) {
			return false
		}
	}
	return true
}

// holds reports whether a comparison's result (as from strings.Compare)
// satisfies the operator.
func (op Op) holds(cmp int) bool {
	switch op {
	case OpEq:
		return cmp == 0
	case OpNe:
		return cmp != 0
	case OpLt:
		return cmp < 0
	case OpLe:
		return cmp <= 0
	case OpGt:
		return cmp > 0
	case OpGe:
		return cmp >= 0
	}
	return false
}

// PaymentQuery selects one invoice's payments.
type PaymentQuery struct {
	Page
	InvoiceID uuid.UUID
	State     []StringCond
	PaidOn    []DateCond
	Reference []StringCond
}

// DisputeQuery selects one invoice's disputes.
type DisputeQuery struct {
	Page
	InvoiceID uuid.UUID
	State     []StringCond
}

// EventQuery selects the change feed.
type EventQuery struct {
	Scope auth.Scope
	After uuid.UUID
	Until time.Time
	Limit int
}

// LegacyKeySnapshot is a key's audit snapshot as events recorded it before
// it carried a digest of the key's secret hash: the same bytes without that
// last member. Verify accepts it for keys audited then, which stay
// uncovered against a replaced hash until their next event (revocation).
func LegacyKeySnapshot(snap []byte) ([]byte, bool) {
	i := bytes.LastIndex(snap, []byte(`,"SecretDigest":`))
	if i < 0 {
		return nil, false
	}
	return append(slices.Clip(snap[:i]), '}'), true
}

// PortalGrant is a supplier's authorisation of a complaint portal.
// RevisionKey names one revision of a resource.
type RevisionKey struct {
	ResourceID uuid.UUID
	Revision   int64
}

type PortalGrant struct {
	Portal   string
	Creditor uuid.UUID
}
