package policy

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/arrears/arrears/internal/civil"
)

//go:embed data
var embedded embed.FS

// Registry holds the policies, reference-rate tables and calendars a
// deployment judges with. It is safe for concurrent use; Override and
// AddPolicyFile replace its contents atomically, and only after every file
// they read has been validated, so a bad file never leaves it half-updated.
type Registry struct {
	mu        sync.RWMutex
	policies  map[string][]Policy // by ID, ascending Version
	rates     map[string]*RateTable
	calendars map[string]*Calendar
}

// bundle is what one load read, before it is merged into a registry.
type bundle struct {
	policies  []Policy
	rates     map[string]*RateTable
	calendars map[string]*Calendar
}

// Embedded returns a registry of the data files built into the binary. Each
// call returns a new registry, so overriding one does not change another.
func Embedded() (*Registry, error) {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		return nil, err
	}
	b, err := readBundle(sub, "embedded data")
	if err != nil {
		return nil, err
	}
	r := &Registry{policies: map[string][]Policy{}, rates: map[string]*RateTable{}, calendars: map[string]*Calendar{}}
	if err := r.merge(b); err != nil {
		return nil, fmt.Errorf("embedded data: %w", err)
	}
	return r, nil
}

// Override reads a directory laid out like the embedded data — policies/
// (*.json), rates/ (*.csv) and calendars/ (*.json), each optional — and
// merges it into the registry: a rate table or calendar with an existing id
// replaces it whole, a policy with an existing id and version replaces that
// version, and anything else is added. This is how a deployment follows a
// new central-bank rate or a newly published holiday calendar without a
// rebuild.
func (r *Registry) Override(dir string) error {
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("policy override: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("policy override: %s is not a directory", dir)
	}
	b, err := readBundle(os.DirFS(dir), dir)
	if err != nil {
		return err
	}
	if len(b.policies)+len(b.rates)+len(b.calendars) == 0 {
		return fmt.Errorf("policy override: %s has no policies/*.json, rates/*.csv or calendars/*.json", dir)
	}
	if err := r.merge(b); err != nil {
		return fmt.Errorf("policy override %s: %w", dir, err)
	}
	return nil
}

// AddPolicyFile merges the policies of one JSON file — a single policy, or
// {"policies": [...]} — into the registry, for custom policies kept in a
// deployment's configuration. The rate tables and calendars they name must
// already be in the registry.
func (r *Registry) AddPolicyFile(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("policy file: %w", err)
	}
	ps, err := ParsePolicies(data)
	if err != nil {
		return fmt.Errorf("policy file %s: %w", file, err)
	}
	if err := r.merge(bundle{policies: ps}); err != nil {
		return fmt.Errorf("policy file %s: %w", file, err)
	}
	return nil
}

// ParsePolicies reads a policy file: one policy object, or an object whose
// only key is "policies" holding a list. Unknown fields are refused, since a
// misspelt setting silently taking its default would change the law applied.
// Omitted escalation, buckets and rounding take their defaults; each policy
// is validated.
func ParsePolicies(data []byte) ([]Policy, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	var raws []json.RawMessage
	if list, ok := probe["policies"]; ok && len(probe) == 1 {
		if err := json.Unmarshal(list, &raws); err != nil {
			return nil, fmt.Errorf("\"policies\" must be a list: %v", err)
		}
		if len(raws) == 0 {
			return nil, errors.New("\"policies\" is empty")
		}
	} else {
		raws = []json.RawMessage{data}
	}
	var out []Policy
	var errs []error
	for i, raw := range raws {
		var p Policy
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&p); err != nil {
			errs = append(errs, fmt.Errorf("policy #%d: %v", i+1, err))
			continue
		}
		p.withDefaults()
		if err := p.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func readBundle(fsys fs.FS, where string) (bundle, error) {
	b := bundle{rates: map[string]*RateTable{}, calendars: map[string]*Calendar{}}
	var errs []error
	each := func(dir, ext string, f func(name string, data []byte) error) {
		entries, err := fs.ReadDir(fsys, dir)
		if errors.Is(err, fs.ErrNotExist) {
			return
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s/%s: %w", where, dir, err))
			return
		}
		for _, e := range entries {
			if e.IsDir() || !strings.HasSuffix(e.Name(), ext) {
				continue
			}
			name := path.Join(dir, e.Name())
			data, err := fs.ReadFile(fsys, name)
			if err == nil {
				err = f(strings.TrimSuffix(e.Name(), ext), data)
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("%s/%s: %w", where, name, err))
			}
		}
	}
	each("policies", ".json", func(_ string, data []byte) error {
		ps, err := ParsePolicies(data)
		b.policies = append(b.policies, ps...)
		return err
	})
	each("rates", ".csv", func(id string, data []byte) error {
		if !idRE.MatchString(id) {
			return fmt.Errorf("a rate table's file name %q must be upper-case letters, digits and dashes: it is the table id", id)
		}
		t, err := ParseRateTable(id, string(data))
		if err == nil {
			b.rates[id] = t
		}
		return err
	})
	each("calendars", ".json", func(id string, data []byte) error {
		c, err := ParseCalendar(data)
		if err != nil {
			return err
		}
		if c.ID != id {
			return fmt.Errorf("calendar id %q differs from its file name %q", c.ID, id)
		}
		b.calendars[id] = c
		return nil
	})
	return b, errors.Join(errs...)
}

// merge applies b on a copy of the registry's contents, checks that every
// policy's references resolve, and only then swaps the copy in.
func (r *Registry) merge(b bundle) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	policies := make(map[string][]Policy, len(r.policies))
	for id, vs := range r.policies {
		policies[id] = slices.Clone(vs)
	}
	rates, calendars := map[string]*RateTable{}, map[string]*Calendar{}
	maps.Copy(rates, r.rates)
	maps.Copy(calendars, r.calendars)
	maps.Copy(rates, b.rates)
	maps.Copy(calendars, b.calendars)

	seen := map[string]bool{}
	var errs []error
	for _, p := range b.policies {
		key := fmt.Sprintf("%s v%d", p.ID, p.Version)
		if seen[key] {
			errs = append(errs, fmt.Errorf("policy %s is defined twice", key))
			continue
		}
		seen[key] = true
		vs := policies[p.ID]
		i := sort.Search(len(vs), func(i int) bool { return vs[i].Version >= p.Version })
		if i < len(vs) && vs[i].Version == p.Version {
			vs[i] = p
		} else {
			vs = slices.Insert(vs, i, p)
		}
		policies[p.ID] = vs
	}
	for _, vs := range policies {
		for _, p := range vs {
			errs = append(errs, checkRefs(p, rates, calendars)...)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.policies, r.rates, r.calendars = policies, rates, calendars
	return nil
}

func checkRefs(p Policy, rates map[string]*RateTable, calendars map[string]*Calendar) []error {
	var errs []error
	for _, t := range []string{p.Interest.Reference, p.Interest.AgreedRateFloor} {
		if t != "" && rates[t] == nil {
			errs = append(errs, fmt.Errorf("policy %s v%d names rate table %q, which is not loaded", p.ID, p.Version, t))
		}
	}
	if c := p.Calendar; c != "" && c != CalendarWeekends && calendars[c] == nil {
		errs = append(errs, fmt.Errorf("policy %s v%d names calendar %q, which is not loaded", p.ID, p.Version, c))
	}
	return errs
}

// Get returns version of policy id, or its latest version when version is
// 0, so that an invoice keeps being judged under the version it started with.
// The policy is a copy the caller may change.
func (r *Registry) Get(id string, version int) (Policy, bool) {
	p, ok := r.Lookup(id, version)
	if !ok {
		return Policy{}, false
	}
	return clonePolicy(*p), true
}

// Lookup is Get without the copy: the registry's own policy, shared by every
// caller, to read and never change. Judging and summarising call it for
// every invoice, where copying the policy's lists was 4% of a sync's CPU.
// It stays as it was when policies are merged later: merge builds new lists
// and swaps them in.
func (r *Registry) Lookup(id string, version int) (*Policy, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	vs := r.policies[id]
	if len(vs) == 0 {
		return nil, false
	}
	if version == 0 {
		return &vs[len(vs)-1], true
	}
	for i := range vs {
		if vs[i].Version == version {
			return &vs[i], true
		}
	}
	return nil, false
}

// Policies returns the latest version of every policy, sorted by id, for
// listing what a deployment judges with.
func (r *Registry) Policies() []Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Policy, 0, len(r.policies))
	for _, vs := range r.policies {
		out = append(out, clonePolicy(vs[len(vs)-1]))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Versions returns every version of every policy, by id and then version:
// an invoice keeps the version it was first judged under, so a version
// superseded for new invoices still judges old ones, and a reader of their
// judgements needs its definition too.
func (r *Registry) Versions() []Policy {
	r.mu.RLock()
	defer r.mu.RUnlock()
	var out []Policy
	for _, vs := range r.policies {
		for _, p := range vs {
			out = append(out, clonePolicy(p))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].ID != out[j].ID {
			return out[i].ID < out[j].ID
		}
		return out[i].Version < out[j].Version
	})
	return out
}

// clonePolicy copies the slices, so that a caller changing its copy cannot
// change the registry's.
func clonePolicy(p Policy) Policy {
	p.Jurisdictions = slices.Clone(p.Jurisdictions)
	p.DebtorKinds = slices.Clone(p.DebtorKinds)
	p.ClockStart.Of = slices.Clone(p.ClockStart.Of)
	p.ClockStart.Overrides = slices.Clone(p.ClockStart.Overrides)
	p.ClockStart.Fallback = slices.Clone(p.ClockStart.Fallback)
	p.Compensation.Bands = slices.Clone(p.Compensation.Bands)
	p.BucketEdges = slices.Clone(p.BucketEdges)
	p.Escalation = slices.Clone(p.Escalation)
	for i, l := range p.Escalation {
		if l.MinNetOverdue != nil {
			m := *l.MinNetOverdue
			p.Escalation[i].MinNetOverdue = &m
		}
	}
	return p
}

// RateOn returns the rate (percent per annum, as exact decimal text) of
// table in force on d, or ok false when the table is unknown or starts
// after d.
func (r *Registry) RateOn(table string, d civil.Date) (percent string, ok bool) {
	r.mu.RLock()
	t := r.rates[table]
	r.mu.RUnlock()
	if t == nil {
		return "", false
	}
	return t.On(d)
}

// RateConfirmedThrough returns the last day a rate table is known to be
// complete; zero when the table does not say.
func (r *Registry) RateConfirmedThrough(table string) civil.Date {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if t := r.rates[table]; t != nil {
		return t.ConfirmedThrough
	}
	return civil.Date{}
}

// RateTable returns a copy of a rate table, for display and audit.
func (r *Registry) RateTable(id string) (RateTable, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t := r.rates[id]
	if t == nil {
		return RateTable{}, false
	}
	c := *t
	c.Entries = slices.Clone(t.Entries)
	return c, true
}

// IsWorkingDay reports whether d is a working day on calendar cal, and
// whether the calendar is published for d's year. The built-in WEEKENDS
// calendar is always published; an unknown calendar, or a year a calendar
// does not cover, counts weekends only and is not published, so the due
// date computed on it is marked provisional rather than silently trusted.
func (r *Registry) IsWorkingDay(cal string, d civil.Date) (working, published bool) {
	if cal == CalendarWeekends {
		return !isWeekend(d), true
	}
	r.mu.RLock()
	c := r.calendars[cal]
	r.mu.RUnlock()
	if c == nil {
		return !isWeekend(d), false
	}
	return c.IsWorkingDay(d)
}

// Fingerprint digests what a due date depends on: the policies and the
// working-day calendars (not the rate tables, which change only interest).
// Data kept per invoice from them (the summary profiles) is stale when the
// fingerprint it was computed under differs.
func (r *Registry) Fingerprint() string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	b, err := json.Marshal(struct {
		Policies  map[string][]Policy
		Calendars map[string]*Calendar
	}{r.policies, r.calendars})
	if err != nil {
		panic(fmt.Sprintf("policy: fingerprint: %v", err)) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
