// Package demo loads a small but realistic ledger so that a new user sees
// the engine at work: debtors of every kind in several jurisdictions, SME
// suppliers, invoices in every aging bucket, partial payments, a payment by
// commercial bill, a dispute and a credit note. Dates are placed relative to
// today, so the picture looks the same whenever it is loaded.
package demo

import (
	"context"
	"errors"
	"fmt"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/civil"
	"github.com/arrears/arrears/internal/ledger"
	"github.com/arrears/arrears/internal/money"
	"github.com/arrears/arrears/internal/regid"
	"github.com/arrears/arrears/internal/service"
)

type party struct {
	key                     string
	name                    string
	kind                    ledger.PartyKind
	size                    ledger.SizeClass
	jurisdiction, reg, reg2 string
	region, industry        string
}

func uscc(body string) string {
	c, err := regid.CompleteUSCC(body)
	if err != nil {
		panic(fmt.Sprintf("demo code %s: %v", body, err))
	}
	return c
}

var parties = []party{
	{key: "minjiang", name: "Minjiang Heavy Machinery Group Co., Ltd.", kind: ledger.KindLargeEnterprise, jurisdiction: "CN", reg: uscc("91350100MA31DEM01"), region: "350100", industry: "C34"},
	{key: "fuzhou-works", name: "Fuzhou Municipal Public Works Bureau", kind: ledger.KindPublicBody, jurisdiction: "CN", reg: uscc("11350100MB0DEM002"), region: "350102", industry: "S92"},
	{key: "shenzhen-grid", name: "Shenzhen Grid Equipment Co., Ltd.", kind: ledger.KindLargeEnterprise, jurisdiction: "CN", reg: uscc("91440300MA5DEM003"), region: "440300", industry: "D44"},
	{key: "rheinwerk", name: "Rheinwerk Maschinenbau AG", kind: ledger.KindLargeEnterprise, jurisdiction: "DE", reg: "DE136695976", region: "DE-NW", industry: "C28"},
	{key: "thameside", name: "Thameside Retail plc", kind: ledger.KindLargeEnterprise, jurisdiction: "GB", reg: "00445790", region: "GB-LND", industry: "G47"},
	{key: "lakeshore", name: "Lakeshore Freight Inc.", kind: ledger.KindLargeEnterprise, jurisdiction: "US", reg: "12-3456789", region: "US-IL", industry: "484"},

	{key: "minhou-castings", name: "Minhou Precision Castings Co., Ltd.", kind: ledger.KindSME, size: ledger.SizeSmall, jurisdiction: "CN", reg: uscc("92350121MA0DEM101"), region: "350121", industry: "C33"},
	{key: "xiamen-bearings", name: "Xiamen Bearing Works", kind: ledger.KindSME, size: ledger.SizeMicro, jurisdiction: "CN", reg: uscc("92350200MA0DEM102"), region: "350203", industry: "C34"},
	{key: "pingtan-paving", name: "Pingtan Paving Services Co., Ltd.", kind: ledger.KindSME, size: ledger.SizeMedium, jurisdiction: "CN", reg: uscc("91350128MA0DEM103"), region: "350128", industry: "E48"},
	{key: "hessen-sensorik", name: "Hessen Sensorik GmbH", kind: ledger.KindSME, size: ledger.SizeSmall, jurisdiction: "DE", reg: "DE811569869", region: "DE-HE", industry: "C26"},
	{key: "kentish-crates", name: "Kentish Crates Ltd", kind: ledger.KindSME, size: ledger.SizeMicro, jurisdiction: "GB", reg: "09876543", region: "GB-KEN", industry: "C16"},
	{key: "prairie-pallets", name: "Prairie Pallets LLC", kind: ledger.KindSME, size: ledger.SizeSmall, jurisdiction: "US", reg: "36-1234567", region: "US-IL", industry: "321920"},
}

// invoice is placed by how many days before today it was delivered.
type invoice struct {
	ref              string
	debtor, creditor string
	currency         string
	amount           int64
	deliveredAgo     int
	termDays         int
	paidPart         int64 // a partial payment, some days after delivery
	bill             bool  // paid by commercial bill maturing later
	disputed         int64
	credited         int64
}

var invoices = []invoice{
	{ref: "MJ-2026-0101", debtor: "minjiang", creditor: "minhou-castings", currency: "CNY", amount: 86000000, deliveredAgo: 20, termDays: 60},
	{ref: "MJ-2026-0087", debtor: "minjiang", creditor: "minhou-castings", currency: "CNY", amount: 12500000, deliveredAgo: 75, termDays: 60, paidPart: 5000000},
	{ref: "MJ-2026-0064", debtor: "minjiang", creditor: "xiamen-bearings", currency: "CNY", amount: 3480000, deliveredAgo: 110, termDays: 60},
	{ref: "MJ-2026-0031", debtor: "minjiang", creditor: "xiamen-bearings", currency: "CNY", amount: 9900000, deliveredAgo: 140, termDays: 90, disputed: 1200000},
	{ref: "MJ-2026-0012", debtor: "minjiang", creditor: "minhou-castings", currency: "CNY", amount: 20000000, deliveredAgo: 200, termDays: 60, paidPart: 10000000, bill: true},
	{ref: "FZ-PW-2026-018", debtor: "fuzhou-works", creditor: "pingtan-paving", currency: "CNY", amount: 45600000, deliveredAgo: 70, termDays: 30},
	{ref: "FZ-PW-2025-233", debtor: "fuzhou-works", creditor: "pingtan-paving", currency: "CNY", amount: 27300000, deliveredAgo: 300, termDays: 60, credited: 300000},
	{ref: "SZ-GRID-5521", debtor: "shenzhen-grid", creditor: "xiamen-bearings", currency: "CNY", amount: 1850000, deliveredAgo: 480, termDays: 60},
	{ref: "RW-4500123", debtor: "rheinwerk", creditor: "hessen-sensorik", currency: "EUR", amount: 1452000, deliveredAgo: 95, termDays: 30},
	{ref: "RW-4500077", debtor: "rheinwerk", creditor: "hessen-sensorik", currency: "EUR", amount: 389000, deliveredAgo: 25, termDays: 30},
	{ref: "TR-PO-88812", debtor: "thameside", creditor: "kentish-crates", currency: "GBP", amount: 1275000, deliveredAgo: 80, termDays: 30, paidPart: 275000},
	{ref: "LF-2026-3391", debtor: "lakeshore", creditor: "prairie-pallets", currency: "USD", amount: 2240000, deliveredAgo: 65, termDays: 45},
}

// Load records the demo ledger through the service, as an administrator,
// and returns the number of invoices it recorded: 0 when it was loaded
// before. Every write goes through the same checks as an API call.
func Load(ctx context.Context, svc *service.Ledger) (int, error) {
	ctx = auth.WithPrincipal(ctx, service.System)
	now := svc.Now()
	ids := map[string]service.PartyRef{}
	for _, p := range parties {
		ref := service.PartyRef{Jurisdiction: p.jurisdiction, RegistrationID: p.reg}
		ids[p.key] = ref
		if _, err := svc.GetParty(ctx, ref); err == nil {
			continue
		}
		_, err := svc.CreateParty(ctx, &ledger.Party{DisplayName: p.name, Kind: p.kind, SizeClass: p.size, Jurisdiction: p.jurisdiction,
			RegistrationID: p.reg, RegionCode: p.region, IndustryCode: p.industry}, service.Idempotency{})
		if err != nil && !errors.Is(err, ledger.ErrAlreadyExists) {
			return 0, fmt.Errorf("party %s: %w", p.key, err)
		}
	}
	n := 0
	for _, spec := range invoices {
		debtor, err := svc.GetParty(ctx, ids[spec.debtor])
		if err != nil {
			return n, err
		}
		today := svc.Today(now, debtor.Jurisdiction)
		delivered := today.AddDays(-spec.deliveredAgo)
		inv, err := svc.CreateInvoice(ctx, service.CreateInvoiceInput{
			Debtor: ids[spec.debtor], Creditor: ids[spec.creditor],
			Invoice: &ledger.Invoice{DocumentRef: spec.ref, ContractRef: "DEMO-" + spec.ref,
				Amount:           money.Money{Minor: spec.amount, Currency: spec.currency},
				ContractSignedOn: delivered.AddDays(-30), DeliveredOn: delivered, IssuedOn: delivered.AddDays(2),
				ReceivedOn: delivered.AddDays(3), AgreedTermDays: spec.termDays},
			Idem: service.Idempotency{Key: "demo/" + spec.ref, Hash: "demo"},
		})
		if errors.Is(err, ledger.ErrAlreadyExists) {
			continue
		}
		if err != nil {
			return n, fmt.Errorf("invoice %s: %w", spec.ref, err)
		}
		if !inv.CreateTime.Before(now) {
			n++ // not a replay of an earlier load's
		}
		if inv.Version > 1 {
			continue // its facts were recorded before
		}
		if err := facts(ctx, svc, inv, spec, delivered); err != nil {
			return n, fmt.Errorf("invoice %s: %w", spec.ref, err)
		}
	}
	return n, nil
}

func facts(ctx context.Context, svc *service.Ledger, inv *ledger.Invoice, spec invoice, delivered civil.Date) error {
	if spec.paidPart > 0 {
		p := &ledger.Payment{Amount: spec.paidPart, Currency: spec.currency, PaidOn: delivered.AddDays(spec.termDays / 2),
			Reference: spec.ref + "-P1", Instrument: ledger.InstrumentTransfer}
		if spec.bill {
			p.Instrument, p.MaturityOn = ledger.InstrumentCommercialBill, p.PaidOn.AddDays(180)
		}
		if _, _, err := svc.RecordPayment(ctx, inv.ID, p); err != nil {
			return err
		}
	}
	if spec.credited > 0 {
		if _, _, err := svc.CreateCreditNote(ctx, inv.ID, &ledger.CreditNote{Amount: spec.credited, IssuedOn: delivered.AddDays(10),
			Reference: spec.ref + "-CN1", Reason: "price adjustment for late completion"}, spec.currency, service.Idempotency{}); err != nil {
			return err
		}
	}
	if spec.disputed > 0 {
		if _, _, err := svc.OpenDispute(ctx, inv.ID, &ledger.Dispute{Amount: spec.disputed, Reason: "bearing batch failed incoming inspection",
			OpenedOn: delivered.AddDays(5)}, spec.currency, service.Idempotency{}); err != nil {
			return err
		}
	}
	return nil
}
