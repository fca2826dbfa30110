package judgement

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
)

// workedExample is one entry of testdata/worked_examples.json.
type workedExample struct {
	Name    string `json:"name"`
	Policy  string `json:"policy"`
	Invoice struct {
		Amount           string       `json:"amount"`
		ContractSignedOn civil.Date   `json:"contract_signed_on"`
		IssuedOn         civil.Date   `json:"issued_on"`
		ReceivedOn       civil.Date   `json:"received_on"`
		DeliveredOn      civil.Date   `json:"delivered_on"`
		AgreedTermDays   int          `json:"agreed_term_days"`
		AgreedRate       *ledger.Rate `json:"agreed_rate"`
	} `json:"invoice"`
	Payments []struct {
		Amount     string                   `json:"amount"`
		PaidOn     civil.Date               `json:"paid_on"`
		Instrument ledger.PaymentInstrument `json:"instrument"`
		MaturityOn civil.Date               `json:"maturity_on"`
	} `json:"payments"`
	Disputes []struct {
		Amount   string              `json:"amount"`
		OpenedOn civil.Date          `json:"opened_on"`
		State    ledger.DisputeState `json:"state"`
	} `json:"disputes"`
	AsOf civil.Date `json:"as_of"`
	Hand []string   `json:"hand"`
	Want workedWant `json:"want"`
}

type workedWant struct {
	DueDate            civil.Date `json:"due_date"`
	Outstanding        string     `json:"outstanding"`
	Disputed           string     `json:"disputed"`
	DaysOverdue        int        `json:"days_overdue"`
	Bucket             string     `json:"bucket"`
	BucketNet          string     `json:"bucket_net"`
	Interest           string     `json:"interest"`
	ContingentInterest string     `json:"contingent_interest"`
	Compensation       string     `json:"compensation"`
	Level              int        `json:"level"`
	LevelName          string     `json:"level_name"`
	NextChange         civil.Date `json:"next_change"`
	Findings           []string   `json:"findings"`
}

func TestWorkedExamples(t *testing.T) {
	data, err := os.ReadFile("testdata/worked_examples.json")
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Examples []workedExample `json:"examples"`
	}
	if err := json.Unmarshal(data, &file); err != nil {
		t.Fatal(err)
	}
	if len(file.Examples) < 3 {
		t.Fatalf("only %d worked examples", len(file.Examples))
	}
	for _, ex := range file.Examples {
		t.Run(ex.Name, func(t *testing.T) {
			if len(ex.Hand) == 0 {
				t.Fatal("a worked example needs its hand computation")
			}
			inv := ledger.Invoice{
				ID: uuid.New(), DocumentRef: "W", Amount: m(ex.Invoice.Amount),
				ContractSignedOn: ex.Invoice.ContractSignedOn, IssuedOn: ex.Invoice.IssuedOn,
				ReceivedOn: ex.Invoice.ReceivedOn, DeliveredOn: ex.Invoice.DeliveredOn,
				AgreedTermDays: ex.Invoice.AgreedTermDays, AgreedRate: ex.Invoice.AgreedRate,
			}
			in := Input{Invoice: inv, Policy: pol(t, ex.Policy), Tables: registry(t), AsOf: ex.AsOf}
			for _, p := range ex.Payments {
				amt := m(p.Amount)
				in.Payments = append(in.Payments, ledger.Payment{ID: uuid.New(), Amount: amt.Minor, Currency: amt.Currency,
					PaidOn: p.PaidOn, Instrument: p.Instrument, MaturityOn: p.MaturityOn, State: ledger.PaymentRecorded})
			}
			for _, dd := range ex.Disputes {
				in.Disputes = append(in.Disputes, ledger.Dispute{ID: uuid.New(), Amount: m(dd.Amount).Minor, OpenedOn: dd.OpenedOn, State: dd.State})
			}
			j := evaluate(t, in)
			cur := inv.Amount.Currency
			str := func(minor int64) string { return money.Money{Minor: minor, Currency: cur}.String() }
			got := workedWant{
				DueDate: j.DueDate, Outstanding: str(j.Outstanding), Disputed: str(j.DisputedOpen),
				DaysOverdue: j.DaysOverdue, Bucket: j.Bucket, BucketNet: j.BucketNet,
				Interest: str(j.Interest), ContingentInterest: str(j.ContingentInterest),
				Level: j.EscalationLevel, LevelName: j.EscalationName, NextChange: j.NextChange, Findings: codes(j.Findings),
			}
			if !j.Compensation.IsZero() {
				got.Compensation = j.Compensation.String()
			}
			if diff := cmp.Diff(ex.Want, got); diff != "" {
				t.Errorf("judgement differs from the hand computation (-want +got):\n%s\nrule: %s\ninterest: %s\naccruals: %+v\nfindings: %+v",
					diff, j.DueDateRule, j.InterestRule, j.Accruals, j.Findings)
			}
		})
	}
}
