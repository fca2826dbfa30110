package judgement

import (
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/policy"
)

var (
	regOnce sync.Once
	reg     *policy.Registry
	regErr  error
)

// registry returns the embedded registry, loaded once for all tests.
func registry(t testing.TB) *policy.Registry {
	t.Helper()
	regOnce.Do(func() { reg, regErr = policy.Embedded() })
	if regErr != nil {
		t.Fatalf("policy.Embedded: %v", regErr)
	}
	return reg
}

func pol(t testing.TB, id string) policy.Policy {
	t.Helper()
	p, ok := registry(t).Get(id, 0)
	if !ok {
		t.Fatalf("policy %s not found", id)
	}
	return p
}

func d(s string) civil.Date {
	if s == "" {
		return civil.Date{}
	}
	v, err := civil.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

func m(s string) money.Money {
	v, err := money.Parse(s)
	if err != nil {
		panic(err)
	}
	return v
}

// invoice returns an invoice of amount issued and delivered on the date,
// to be adjusted by the test.
func invoice(amount, on string) ledger.Invoice {
	return ledger.Invoice{
		ID: uuid.New(), DocumentRef: "INV-1", Amount: m(amount),
		IssuedOn: d(on), DeliveredOn: d(on), ReceivedOn: d(on),
		CreditorSizeAtSigning: ledger.SizeSmall,
	}
}

func payment(amount int64, on string) ledger.Payment {
	return ledger.Payment{ID: uuid.New(), Amount: amount, PaidOn: d(on), Instrument: ledger.InstrumentTransfer, State: ledger.PaymentRecorded}
}

func input(t testing.TB, policyID string, inv ledger.Invoice, asOf string) Input {
	return Input{Invoice: inv, Policy: pol(t, policyID), Tables: registry(t), AsOf: d(asOf)}
}

func evaluate(t testing.TB, in Input) Judgement {
	t.Helper()
	j, err := Evaluate(in)
	if err != nil {
		t.Fatalf("Evaluate: %v", err)
	}
	return j
}

func codes(fs []Finding) []string {
	out := []string{}
	for _, f := range fs {
		out = append(out, f.Code)
	}
	return out
}

func hasFinding(j Judgement, code string) bool {
	for _, f := range j.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}
