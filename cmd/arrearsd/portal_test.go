package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/clock"
	"github.com/arrears/arrears/internal/store/pgtest"
)

// rest is a JSON client of the REST API, as a complaint portal would write
// one: plain maps in, plain maps out.
type rest struct {
	t    *testing.T
	base string
}

type obj = map[string]any

func (r rest) do(token, method, path string, body obj) (int, obj) {
	r.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, r.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out obj
	raw, _ := io.ReadAll(resp.Body)
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			r.t.Fatalf("%s %s: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

// ok calls and requires HTTP 200.
func (r rest) ok(token, method, path string, body obj) obj {
	r.t.Helper()
	code, out := r.do(token, method, path, body)
	if code != http.StatusOK {
		r.t.Fatalf("%s %s: HTTP %d %v", method, path, code, out)
	}
	return out
}

// refused calls and requires the HTTP code, returning the message.
func (r rest) refused(token, method, path string, body obj, want int) string {
	r.t.Helper()
	code, out := r.do(token, method, path, body)
	if code != want {
		r.t.Fatalf("%s %s: HTTP %d %v, want %d", method, path, code, out, want)
	}
	msg, _ := out["message"].(string)
	return msg
}

func get(o obj, path ...string) any {
	var cur any = o
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func str(o obj, path ...string) string { s, _ := get(o, path...).(string); return s }

func dateJSON(d civil.Date) obj { return obj{"year": d.Year, "month": int(d.Month), "day": d.Day} }

func ymd(v any) string {
	m, _ := v.(map[string]any)
	if m == nil {
		return ""
	}
	return fmt.Sprintf("%04.0f-%02.0f-%02.0f", m["year"], m["month"], m["day"])
}

func TestPortalScenarioSQLite(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(noonCN(civil.MustNew(2025, 9, 26)))
	_, h := startServer(t, config{DataDir: dir, SweepEvery: 20 * time.Millisecond}, clk)
	portalScenario(t, rest{t: t, base: "http://" + h}, adminToken(t, dir), clk)
	verifyAudit(t, config{DataDir: dir})
}

func TestPortalScenarioPostgres(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(noonCN(civil.MustNew(2025, 9, 26)))
	url := pgtest.URL(t)
	_, h := startServer(t, config{DatabaseURL: url, DataDir: dir, SweepEvery: 20 * time.Millisecond}, clk)
	portalScenario(t, rest{t: t, base: "http://" + h}, adminToken(t, dir), clk)
	verifyAudit(t, config{DataDir: dir, DatabaseURL: url})
}

// verifyAudit runs `arrearsd audit verify` on a server's data: everything
// the scenario wrote (claims, contests, complaints, credit notes) must
// verify, live rows included.
func verifyAudit(t *testing.T, cfg config) {
	t.Helper()
	args := []string{"verify", "-data-dir", cfg.DataDir, "-log-level", "error"}
	if cfg.DatabaseURL != "" {
		args = append(args, "-database-url", cfg.DatabaseURL)
	}
	var out strings.Builder
	if err := runAudit(context.Background(), args, &out); err != nil {
		t.Errorf("audit verify: %v\n%s", err, out.String())
	}
}

func noonCN(d civil.Date) time.Time { return time.Date(d.Year, d.Month, d.Day, 4, 0, 0, 0, time.UTC) }

// eventually polls until cond holds, for the background sweeper.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// portalScenario carries a supplier's claims, a contest and a complaint from
// submission to closure over REST, as a portal, a debtor and two regulators,
// across China's National Day holiday.
func portalScenario(t *testing.T, api rest, admin string, clk *clock.Fake) {
	day := func(y, m, d int) { clk.Set(noonCN(civil.MustNew(y, time.Month(m), d))) }
	party := func(name, reg, region, kind, size string) string {
		p := obj{"displayName": name, "kind": kind, "jurisdiction": "CN", "registrationId": uscc(reg), "regionCode": region}
		if size != "" {
			p["sizeClass"] = size
		}
		return str(api.ok(admin, "POST", "/v1/parties", obj{"party": p}), "party", "name")
	}
	debtor := party("Minjiang Heavy Machinery", "91350102MA2PRT001", "350102", "PARTY_KIND_LARGE_ENTERPRISE", "")
	supplier := party("Minhou Castings", "92350121MA0PRT002", "350121", "PARTY_KIND_SME", "SIZE_CLASS_SMALL")
	province := party("Fujian Provincial SME Office", "11350000MB0PRT003", "350000", "PARTY_KIND_REGULATOR", "")
	city := party("Fuzhou SME Bureau", "11350100MB0PRT004", "350100", "PARTY_KIND_REGULATOR", "")
	elsewhere := party("Shenzhen SME Bureau", "11440300MB0PRT005", "440300", "PARTY_KIND_REGULATOR", "")
	key := func(k obj) string { return str(api.ok(admin, "POST", "/v1/apiKeys", k), "token") }
	debtorKey := key(obj{"role": "ROLE_DEBTOR", "parties": []string{debtor}})
	supplierKey := key(obj{"role": "ROLE_CREDITOR", "parties": []string{supplier}})
	portal := key(obj{"role": "ROLE_PORTAL", "portal": "sme-portal.example"})
	provinceKey := key(obj{"role": "ROLE_REGULATOR", "parties": []string{province}, "remitJurisdiction": "CN", "remitRegionPrefix": "35"})
	cityKey := key(obj{"role": "ROLE_REGULATOR", "parties": []string{city}, "remitJurisdiction": "CN", "remitRegionPrefix": "3501"})
	otherKey := key(obj{"role": "ROLE_REGULATOR", "parties": []string{elsewhere}, "remitJurisdiction": "CN", "remitRegionPrefix": "44"})
	// A regulator key speaks for an office within its remit.
	if msg := api.refused(admin, "POST", "/v1/apiKeys", obj{"role": "ROLE_REGULATOR", "parties": []string{city}, "remitJurisdiction": "CN", "remitRegionPrefix": "44"},
		http.StatusBadRequest); !strings.Contains(msg, "api_key.parties[0]") {
		t.Errorf("a regulator key for an office outside its remit: %q, want api_key.parties[0] named", msg)
	}
	api.ok(supplierKey, "POST", "/v1/portalAuthorizations", obj{"creditor": supplier, "portal": "sme-portal.example"})

	// The debtor reported one invoice, and a payment the supplier never got.
	inv := str(api.ok(debtorKey, "POST", "/v1/invoices", obj{"invoice": obj{"debtor": debtor, "creditor": supplier,
		"documentRef": "MJ-8801", "amount": obj{"currencyCode": "CNY", "minorUnits": "30000000"},
		"contractSignedOn": dateJSON(civil.MustNew(2025, 6, 20)), "deliveredOn": dateJSON(civil.MustNew(2025, 7, 1)),
		"issuedOn": dateJSON(civil.MustNew(2025, 7, 2))}}), "invoice", "name")
	pay := str(api.ok(debtorKey, "POST", "/v1/"+inv+"/payments", obj{"amount": obj{"currencyCode": "CNY", "minorUnits": "10000000"},
		"paidOn": dateJSON(civil.MustNew(2025, 8, 15)), "reference": "MJ-PAY-1"}), "payment", "name")

	// Claims: the portal registers two unreported debts and a third.
	claim := func(ref string, amount string) string {
		return str(api.ok(portal, "POST", "/v1/claims", obj{"claim": obj{"creditor": supplier, "debtor": debtor, "documentRef": ref,
			"amount": obj{"currencyCode": "CNY", "minorUnits": amount}, "issuedOn": dateJSON(civil.MustNew(2025, 8, 1)),
			"deliveredOn": dateJSON(civil.MustNew(2025, 7, 28)), "dueOn": dateJSON(civil.MustNew(2025, 9, 26)),
			"evidenceRefs": []string{"contract HT-17", "delivery note DN-" + ref}}}), "claim", "name")
	}
	c1, c2, c3 := claim("MC-501", "4500000"), claim("MC-502", "1200000"), claim("MC-503", "800000")
	api.refused(portal, "POST", "/v1/"+c1+":answer", obj{"answer": "ACKNOWLEDGED"}, http.StatusForbidden)
	ack := api.ok(debtorKey, "POST", "/v1/"+c1+":answer", obj{"answer": "ACKNOWLEDGED", "documentRef": "MJ-8802"})
	if str(ack, "claim", "state") != "ACKNOWLEDGED" || str(ack, "claim", "invoice") == "" {
		t.Fatalf("acknowledged claim = %v", ack)
	}
	api.ok(debtorKey, "POST", "/v1/"+c2+":answer", obj{"answer": "DISPUTED", "comment": "no such order"})
	if msg := api.refused(debtorKey, "POST", "/v1/"+c3+":answer", obj{"answer": "DISPUTED"}, http.StatusBadRequest); !strings.HasPrefix(msg, "invalid request: comment:") {
		t.Errorf("a dispute without its reason: %q, want the comment named", msg)
	}
	// A reference is the invoice an acknowledgement records; with a
	// dispute it would be dropped unread.
	if msg := api.refused(debtorKey, "POST", "/v1/"+c3+":answer", obj{"answer": "DISPUTED", "comment": "no such order", "documentRef": "MJ-8803"},
		http.StatusBadRequest); !strings.HasPrefix(msg, "invalid request: document_ref:") {
		t.Errorf("a dispute naming a reference: %q, want document_ref named", msg)
	}
	// An answer made on a stale read of the claim changes nothing.
	etag := str(api.ok(debtorKey, "GET", "/v1/"+c3, nil), "claim", "etag")
	api.refused(debtorKey, "POST", "/v1/"+c3+":answer", obj{"answer": "DISPUTED", "comment": "no such order", "etag": etag + "0"}, http.StatusConflict)
	if got := str(api.ok(debtorKey, "GET", "/v1/"+c3, nil), "claim", "state"); got != "SUBMITTED" || etag == "" {
		t.Errorf("after an answer with a stale etag (%q) the claim is %s", etag, got)
	}
	if str(api.ok(portal, "GET", "/v1/"+str(ack, "claim", "invoice"), nil), "invoice", "documentRef") != "MJ-8802" {
		t.Error("the acknowledged claim's invoice is not in the ledger")
	}

	// Contest: the payment never arrived. The debtor reverses it, which
	// marks the contest corrected; the supplier accepts; both sides agree.
	// Sent twice with its request id (the answer lost): opened once.
	openContest := func() string {
		return str(api.ok(portal, "POST", "/v1/"+inv+"/contests?requestId=portal-contest-1", obj{"kind": "PAYMENT_NOT_RECEIVED", "payment": pay,
			"detail": "no transfer MJ-PAY-1 reached our account"}), "contest", "name")
	}
	contest := openContest()
	if again := openContest(); again != contest {
		t.Errorf("a contest sent again with its request id: %s, then %s", contest, again)
	}
	if get(api.ok(portal, "GET", "/v1/"+inv, nil), "invoice", "bothSidesAgree") == true {
		t.Error("a contested invoice says both sides agree")
	}
	api.ok(debtorKey, "POST", "/v1/"+pay+":reverse", obj{"reversedOn": dateJSON(civil.MustNew(2025, 9, 26)), "reason": "transfer was returned"})
	cs := api.ok(portal, "GET", "/v1/"+inv+"/contests", nil)
	if got := str(cs["contests"].([]any)[0].(map[string]any), "state"); got != "CORRECTED" {
		t.Errorf("contest after the debtor's correction = %s, want CORRECTED", got)
	}
	if msg := api.refused(portal, "POST", "/v1/"+contest+":move", obj{"action": "FOO"}, http.StatusBadRequest); !strings.HasPrefix(msg, "invalid request: action:") {
		t.Errorf("an unknown contest action: %q, want it named as an invalid field", msg)
	}
	api.ok(portal, "POST", "/v1/"+contest+":move", obj{"action": "ACCEPT"})
	if get(api.ok(portal, "GET", "/v1/"+inv, nil), "invoice", "bothSidesAgree") != true {
		t.Error("after the accepted correction both sides do not agree")
	}
	// A contest a regulator upholds leaves the record found wrong until the
	// debtor corrects it and the supplier accepts the correction.
	upheld := str(api.ok(portal, "POST", "/v1/"+inv+"/contests", obj{"kind": "OTHER", "detail": "the contract is HT-8801, not none"}), "contest", "name")
	api.ok(provinceKey, "POST", "/v1/"+upheld+":move", obj{"action": "DECIDE_UPHELD", "comment": "the contract shows it"})
	if get(api.ok(portal, "GET", "/v1/"+inv, nil), "invoice", "bothSidesAgree") == true {
		t.Error("an invoice whose contest was upheld, uncorrected, says both sides agree")
	}
	api.ok(debtorKey, "PATCH", "/v1/"+inv+"?updateMask=contractRef", obj{"contractRef": "HT-8801"})
	upheldState := ""
	for _, c := range api.ok(portal, "GET", "/v1/"+inv+"/contests", nil)["contests"].([]any) {
		if c := c.(map[string]any); c["name"] == upheld {
			upheldState = str(c, "state")
		}
	}
	if upheldState != "CORRECTED" {
		t.Errorf("the upheld contest after the debtor's correction = %q, want CORRECTED", upheldState)
	}
	api.ok(portal, "POST", "/v1/"+upheld+":move", obj{"action": "ACCEPT"})
	if get(api.ok(portal, "GET", "/v1/"+inv, nil), "invoice", "bothSidesAgree") != true {
		t.Error("after the upheld contest's correction was accepted both sides do not agree")
	}

	// The complaint, filed on Friday 26 September 2025 with the provincial
	// office; its review deadline runs across National Day: 10 working
	// days, counting the make-up Sundays and Saturdays, is 16 October.
	complaint := api.ok(portal, "POST", "/v1/complaints", obj{"complaint": obj{"complainant": supplier, "debtor": debtor,
		"receivingRegulator": province, "invoices": []string{inv}, "claims": []string{c2}, "summary": "CNY 300,000 overdue since August"}})
	cn := str(complaint, "complaint", "name")
	if ymd(get(complaint, "complaint", "deadline")) != "2025-10-16" || str(complaint, "complaint", "state") != "SUBMITTED" {
		t.Fatalf("filed complaint = %v", complaint)
	}
	move := func(token, action string, extra obj) obj {
		body := obj{"action": action, "comment": strings.ToLower(action)}
		for k, v := range extra {
			body[k] = v
		}
		return api.ok(token, "POST", "/v1/"+cn+":move", body)
	}
	// Refusals, each saying why.
	if msg := api.refused(debtorKey, "POST", "/v1/"+cn+":move", obj{"action": "ACCEPT"}, http.StatusForbidden); !strings.Contains(msg, "receiving regulator") {
		t.Errorf("debtor accepting: %q", msg)
	}
	if msg := api.refused(provinceKey, "POST", "/v1/"+cn+":move", obj{"action": "START_HANDLING"}, http.StatusBadRequest); !strings.Contains(msg, "SUBMITTED") {
		t.Errorf("handling a submitted complaint: %q", msg)
	}
	api.refused(otherKey, "GET", "/v1/"+cn, nil, http.StatusNotFound)
	api.refused(otherKey, "POST", "/v1/"+cn+":move", obj{"action": "ACCEPT"}, http.StatusNotFound)
	if msg := api.refused(provinceKey, "POST", "/v1/"+cn+":move", obj{"action": "ACEPT"}, http.StatusBadRequest); !strings.HasPrefix(msg, "invalid request: action:") {
		t.Errorf("an unknown action: %q, want it named as an invalid field", msg)
	}

	day(2025, 10, 9)
	acc := move(provinceKey, "ACCEPT", nil)
	// Thu 9 Oct: Fri 10, Sat 11 (make-up), 13-17, 20-22 Oct.
	if ymd(get(acc, "complaint", "deadline")) != "2025-10-22" {
		t.Errorf("forwarding deadline = %s", ymd(get(acc, "complaint", "deadline")))
	}
	day(2025, 10, 10)
	api.refused(provinceKey, "POST", "/v1/"+cn+":move", obj{"action": "FORWARD", "handlingRegulator": elsewhere}, http.StatusBadRequest)
	fwd := move(provinceKey, "FORWARD", obj{"handlingRegulator": city})
	if ymd(get(fwd, "complaint", "deadline")) != "2025-11-10" {
		t.Errorf("handling deadline = %s, want Monday 10 November (30 days after 10 October end on a Sunday)", ymd(get(fwd, "complaint", "deadline")))
	}
	api.refused(provinceKey, "POST", "/v1/"+cn+":move", obj{"action": "START_HANDLING"}, http.StatusForbidden)
	move(cityKey, "START_HANDLING", nil)
	ext := move(cityKey, "EXTEND_DEADLINE", obj{"extendDays": 20, "comment": "waiting for the debtor's bank statements"})
	if ymd(get(ext, "complaint", "deadline")) != "2025-12-01" { // 29 November is a Saturday
		t.Errorf("extended deadline = %s", ymd(get(ext, "complaint", "deadline")))
	}
	// Past 90 days in all, the number asked for is refused by name.
	if msg := api.refused(cityKey, "POST", "/v1/"+cn+":move", obj{"action": "EXTEND_DEADLINE", "extendDays": 41, "comment": "more"}, http.StatusBadRequest); !strings.HasPrefix(msg, "invalid request: extend_days:") {
		t.Errorf("an extension past 90 days: %q, want extend_days named", msg)
	}
	if msg := api.refused(cityKey, "POST", "/v1/"+cn+":move", obj{"action": "EXTEND_DEADLINE", "extendDays": 5}, http.StatusBadRequest); !strings.HasPrefix(msg, "invalid request: comment:") {
		t.Errorf("an extension without its reason: %q, want the comment named", msg)
	}
	day(2025, 10, 20)
	move(debtorKey, "RESPOND", obj{"comment": "we will pay in two instalments"})
	day(2025, 10, 24)
	// A plan in another currency, or beyond what the ledger counts, is
	// refused naming the instalment's field.
	msg := api.refused(cityKey, "POST", "/v1/"+cn+":move", obj{"action": "RESOLVE", "outcome": "PAYMENT_PLAN", "paymentPlan": []obj{
		{"dueOn": dateJSON(civil.MustNew(2025, 11, 30)), "amount": obj{"currencyCode": "USD", "minorUnits": "100"}},
		{"dueOn": dateJSON(civil.MustNew(2025, 12, 31)), "amount": obj{"currencyCode": "CNY", "minorUnits": "9223372036854775807"}},
		{"dueOn": dateJSON(civil.MustNew(9999, 12, 31)), "amount": obj{"currencyCode": "CNY", "minorUnits": "100"}}}}, http.StatusBadRequest)
	for _, f := range []string{"payment_plan[0].amount.currency_code", "payment_plan[1].amount.minor_units", "payment_plan[2].due_on"} {
		if !strings.Contains(msg, f) {
			t.Errorf("refused plan: %q does not name %s", msg, f)
		}
	}
	move(cityKey, "RESOLVE", obj{"outcome": "PAYMENT_PLAN", "paymentPlan": []obj{
		{"dueOn": dateJSON(civil.MustNew(2025, 11, 30)), "amount": obj{"currencyCode": "CNY", "minorUnits": "10000000"}},
		{"dueOn": dateJSON(civil.MustNew(2025, 12, 31)), "amount": obj{"currencyCode": "CNY", "minorUnits": "20000000"}}}})

	// First instalment met, second missed: the complaint reopens by itself.
	day(2025, 11, 28)
	api.ok(debtorKey, "POST", "/v1/"+inv+"/payments", obj{"amount": obj{"currencyCode": "CNY", "minorUnits": "10000000"},
		"paidOn": dateJSON(civil.MustNew(2025, 11, 28)), "reference": "MJ-PAY-2"})
	state := func() string { return str(api.ok(portal, "GET", "/v1/"+cn, nil), "complaint", "state") }
	day(2025, 12, 1)
	time.Sleep(100 * time.Millisecond) // let a sweep pass
	if s := state(); s != "RESOLVED" {
		t.Fatalf("after the first instalment was met: %s", s)
	}
	// Found missed 5 days on (a payment made on the day may be recorded
	// late), and reopened from 1 January.
	day(2026, 1, 5)
	time.Sleep(100 * time.Millisecond) // let a sweep pass
	if s := state(); s != "RESOLVED" {
		t.Fatalf("within the grace days after the second instalment: %s", s)
	}
	day(2026, 1, 6)
	eventually(t, "the complaint to reopen", func() bool { return state() == "IN_HANDLING" })
	// Handling starts over: 30 days from the day the miss could be found
	// (6 January, so Thursday 5 February), without the earlier 20-day
	// extension.
	if dl := ymd(get(api.ok(portal, "GET", "/v1/"+cn, nil), "complaint", "deadline")); dl != "2026-02-05" {
		t.Errorf("deadline after the reopening = %s, want 2026-02-05", dl)
	}

	// Paid at last; resolved; closed automatically 30 days later.
	day(2026, 1, 7)
	api.ok(debtorKey, "POST", "/v1/"+inv+"/payments", obj{"amount": obj{"currencyCode": "CNY", "minorUnits": "20000000"},
		"paidOn": dateJSON(civil.MustNew(2026, 1, 5)), "reference": "MJ-PAY-3"})
	move(cityKey, "RESOLVE", obj{"outcome": "PAID"})
	api.refused(portal, "POST", "/v1/"+cn+":move", obj{"action": "WITHDRAW"}, http.StatusBadRequest)
	day(2026, 2, 6)
	eventually(t, "the complaint to close", func() bool { return state() == "CLOSED" })

	var kinds []string
	lines := map[string]bool{} // the timeline's lines, by name
	for _, e := range api.ok(portal, "GET", "/v1/"+cn+"/events", nil)["events"].([]any) {
		m := e.(map[string]any)
		kinds = append(kinds, fmt.Sprintf("%s>%s", m["kind"], m["toState"]))
		lines[str(m, "name")] = true
	}
	want := "TRANSITION>SUBMITTED TRANSITION>ACCEPTED TRANSITION>FORWARDED TRANSITION>IN_HANDLING EXTENDED>IN_HANDLING " +
		"TRANSITION>DEBTOR_RESPONDED TRANSITION>RESOLVED INSTALMENT_MISSED>RESOLVED TRANSITION>IN_HANDLING " +
		"TRANSITION>RESOLVED TRANSITION>CLOSED"
	if strings.Join(kinds, " ") != want {
		t.Errorf("timeline:\n %s\nwant\n %s", strings.Join(kinds, " "), want)
	}

	// A second complaint nobody reviews: its deadline passes, it is flagged
	// and listed for the regulator.
	day(2026, 2, 9)
	late := str(api.ok(supplierKey, "POST", "/v1/complaints", obj{"complaint": obj{"complainant": supplier, "debtor": debtor,
		"invoices": []string{str(ack, "claim", "invoice")}, "summary": "acknowledged debt still unpaid"}}), "complaint", "name")
	if r := str(api.ok(supplierKey, "GET", "/v1/"+late, nil), "complaint", "receivingRegulator"); r != city {
		t.Errorf("default receiving regulator = %s, want the most specific one covering the debtor (%s)", r, city)
	}
	day(2026, 3, 10)
	eventually(t, "the missed deadline to be escalated in the timeline", func() bool {
		for _, e := range api.ok(cityKey, "GET", "/v1/"+late+"/events", nil)["events"].([]any) {
			if e.(map[string]any)["kind"] == "DEADLINE_MISSED" {
				return true
			}
		}
		return false
	})
	l := api.ok(cityKey, "GET", "/v1/complaints?filter=deadline_missed%3Dtrue", nil)
	if cs, _ := l["complaints"].([]any); len(cs) != 1 || cs[0].(map[string]any)["name"] != late {
		t.Errorf("complaints with a missed deadline = %v", l)
	}
	// Paging through the filter: the first complaint (in time) is skipped,
	// and the page is not cut short by it.
	l = api.ok(cityKey, "GET", "/v1/complaints?filter=deadline_missed%3Dtrue&pageSize=1", nil)
	if cs, _ := l["complaints"].([]any); len(cs) != 1 || cs[0].(map[string]any)["name"] != late {
		t.Errorf("complaints with a missed deadline, one per page = %v", l)
	}

	// And the complaints still in time: the other one alone.
	l = api.ok(cityKey, "GET", "/v1/complaints?filter=deadline_missed%3Dfalse", nil)
	if cs, _ := l["complaints"].([]any); len(cs) != 1 || cs[0].(map[string]any)["name"] == late {
		t.Errorf("complaints in time = %v", l)
	}
	l = api.ok(cityKey, "GET", "/v1/complaints?filter=deadline_missed%3Dfalse%20AND%20deadline_missed%3Dtrue", nil)
	if cs, _ := l["complaints"].([]any); len(cs) != 0 {
		t.Errorf("complaints both in time and late = %v", l)
	}

	// A record still contested shows in the figures.
	api.ok(portal, "POST", "/v1/"+str(ack, "claim", "invoice")+"/contests", obj{"kind": "DATES_DIFFER", "detail": "delivered on 25 July, not 28"})

	// The regulator's figures as of 10 March 2026, by province.
	stats := api.ok(provinceKey, "GET", "/v1/complaintStatistics?groupBy=REGION&regionDigits=2&asOf.year=2026&asOf.month=3&asOf.day=10", nil)
	groups, _ := stats["groups"].([]any)
	if len(groups) != 1 {
		t.Fatalf("statistics groups = %v", stats)
	}
	g := groups[0].(map[string]any)
	for k, want := range map[string]float64{"received": 2, "open": 1, "closed": 1, "late": 1, "inTime": 1, "unconfirmedClaims": 1,
		"disputedClaims": 1, "contestedRecords": 1} {
		if got, _ := g[k].(float64); got != want {
			t.Errorf("statistics %s = %v, want %v (%v)", k, g[k], want, g)
		}
	}
	// As of before the second complaint, only the first was received.
	earlier := api.ok(provinceKey, "GET", "/v1/complaintStatistics?groupBy=REGION&regionDigits=2&asOf.year=2025&asOf.month=10&asOf.day=15", nil)
	if g := earlier["groups"].([]any)[0].(map[string]any); g["received"].(float64) != 1 || g["open"].(float64) != 1 {
		t.Errorf("statistics as of 15 October 2025 = %v", g)
	}
	api.refused(portal, "GET", "/v1/complaintStatistics", nil, http.StatusForbidden)

	// The change feed names claims and complaints as the API does, so a
	// portal can follow each event to its resource.
	clk.Advance(time.Minute) // past the feed's settling delay
	seen, named := map[string]bool{}, map[string]bool{}
	keyNames := map[string]bool{}
	for _, k := range api.ok(admin, "GET", "/v1/apiKeys?pageSize=1000", nil)["apiKeys"].([]any) {
		keyNames[str(k.(map[string]any), "name")] = true
	}
	for cursor := ""; ; {
		feed := api.ok(admin, "GET", "/v1/events?pageSize=1000&afterCursor="+cursor, nil)
		events, _ := feed["events"].([]any)
		for _, e := range events {
			name := str(e.(map[string]any), "resource")
			kind, _, _ := strings.Cut(name, "/")
			if timeline, _, ok := strings.Cut(name, "/events/"); ok {
				// A timeline's line: named as its timeline lists it.
				if named[name] {
					t.Errorf("the change feed names two events %s", name)
				}
				named[name] = true
				if timeline == cn && !lines[name] {
					t.Errorf("the change feed names a line %s, which %s/events does not list", name, cn)
				}
				seen["lines"] = true
				continue
			}
			if kind == "claims" || kind == "complaints" || strings.Contains(name, "/claims/") || strings.Contains(name, "/complaints/") {
				api.ok(admin, "GET", "/v1/"+name, nil)
				seen[kind] = true
			}
			if kind == "apiKeys" {
				seen[kind] = true
				if !keyNames[name] {
					t.Errorf("the change feed names a key %s, which is no key's name", name)
				}
			}
		}
		next, _ := feed["nextCursor"].(string)
		if len(events) == 0 || next == cursor {
			break
		}
		cursor = next
	}
	if !seen["claims"] || !seen["complaints"] || !seen["apiKeys"] || !seen["lines"] {
		t.Errorf("the change feed named no claim, complaint, key or timeline line as the API does: %v", seen)
	}

	// The supplier withdraws the portal's authorisation: the portal no
	// longer sees its invoices; the portal cannot withdraw it for itself
	// again, nor can anyone withdraw what is not there.
	api.ok(portal, "GET", "/v1/"+inv, nil)
	api.refused(debtorKey, "POST", "/v1/portalAuthorizations:revoke", obj{"creditor": supplier, "portal": "sme-portal.example"}, http.StatusForbidden)
	api.ok(supplierKey, "POST", "/v1/portalAuthorizations:revoke", obj{"creditor": supplier, "portal": "sme-portal.example"})
	api.refused(portal, "GET", "/v1/"+inv, nil, http.StatusNotFound)
	api.refused(supplierKey, "POST", "/v1/portalAuthorizations:revoke", obj{"creditor": supplier, "portal": "sme-portal.example"}, http.StatusNotFound)
	api.refused(supplierKey, "POST", "/v1/portalAuthorizations:revoke", obj{"creditor": supplier, "portal": "NOT A PORTAL"}, http.StatusBadRequest)

	// The debtor moves to Shenzhen: the Fuzhou bureau, receiving the late
	// complaint, still sees and works on it (and lists it), though the
	// debtor has left its remit; Shenzhen's bureau now sees it by remit.
	api.ok(admin, "PATCH", "/v1/"+debtor+"?updateMask=regionCode", obj{"regionCode": "440300"})
	api.ok(cityKey, "GET", "/v1/"+late, nil)
	api.ok(cityKey, "GET", "/v1/"+late+"/events", nil)
	if cs, _ := api.ok(cityKey, "GET", "/v1/complaints", nil)["complaints"].([]any); !slices.ContainsFunc(cs, func(c any) bool { return c.(map[string]any)["name"] == late }) {
		t.Errorf("the receiving regulator's list after the debtor moved: %v", cs)
	}
	api.ok(cityKey, "POST", "/v1/"+late+":move", obj{"action": "ACCEPT"})
	api.ok(otherKey, "GET", "/v1/"+late, nil)
	// The figures follow the remit: the moved debtor's complaints make no
	// group of its new region in Fuzhou's figures.
	moved := api.ok(cityKey, "GET", "/v1/complaintStatistics?groupBy=REGION&regionDigits=2&asOf.year=2026&asOf.month=3&asOf.day=10", nil)
	if groups, _ := moved["groups"].([]any); len(groups) != 0 {
		t.Errorf("Fuzhou's figures after the debtor moved to Shenzhen: %v, want no group", groups)
	}
}

// TestContestSettledAfterMidnightInBeijing: a contest withdrawn at 01:00 on
// 3 October in Beijing (17:00 UTC on 2 October) still stood on 2 October,
// the debtor's day, in the regulator's statistics.
func TestContestSettledAfterMidnightInBeijing(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(noonCN(civil.MustNew(2025, 10, 2)))
	_, h := startServer(t, config{DataDir: dir}, clk)
	api, admin := rest{t: t, base: "http://" + h}, adminToken(t, dir)
	party := func(name, reg, region, kind, size string) string {
		p := obj{"displayName": name, "kind": kind, "jurisdiction": "CN", "registrationId": uscc(reg), "regionCode": region}
		if size != "" {
			p["sizeClass"] = size
		}
		return str(api.ok(admin, "POST", "/v1/parties", obj{"party": p}), "party", "name")
	}
	debtor := party("Debtor", "91350102MA2MDN001", "350102", "PARTY_KIND_LARGE_ENTERPRISE", "")
	supplier := party("Supplier", "92350121MA0MDN002", "350121", "PARTY_KIND_SME", "SIZE_CLASS_SMALL")
	key := func(k obj) string { return str(api.ok(admin, "POST", "/v1/apiKeys", k), "token") }
	debtorKey := key(obj{"role": "ROLE_DEBTOR", "parties": []string{debtor}})
	supplierKey := key(obj{"role": "ROLE_CREDITOR", "parties": []string{supplier}})
	regulatorKey := key(obj{"role": "ROLE_REGULATOR", "remitJurisdiction": "CN", "remitRegionPrefix": "35"})
	inv := str(api.ok(debtorKey, "POST", "/v1/invoices", obj{"invoice": obj{"debtor": debtor, "creditor": supplier,
		"documentRef": "MDN-1", "amount": obj{"currencyCode": "CNY", "minorUnits": "100000"},
		"issuedOn": dateJSON(civil.MustNew(2025, 9, 1))}}), "invoice", "name")
	contest := str(api.ok(supplierKey, "POST", "/v1/"+inv+"/contests", obj{"kind": "DATES_DIFFER", "detail": "issued on 2 September"}), "contest", "name")
	clk.Set(time.Date(2025, 10, 2, 17, 0, 0, 0, time.UTC))
	api.ok(supplierKey, "POST", "/v1/"+contest+":move", obj{"action": "WITHDRAW"})
	contested := func(day int) float64 {
		stats := api.ok(regulatorKey, "GET", fmt.Sprintf("/v1/complaintStatistics?asOf.year=2025&asOf.month=10&asOf.day=%d", day), nil)
		var n float64
		groups, _ := stats["groups"].([]any)
		for _, g := range groups {
			v, _ := g.(map[string]any)["contestedRecords"].(float64)
			n += v
		}
		return n
	}
	if got := contested(2); got != 1 {
		t.Errorf("contested records as of 2 October = %v, want 1 (withdrawn on the 3rd in Beijing)", got)
	}
	if got := contested(3); got != 0 {
		t.Errorf("contested records as of 3 October = %v, want 0", got)
	}
}
