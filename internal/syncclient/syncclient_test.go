package syncclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	arrearsv1 "github.com/arrears/arrears/gen/arrears/v1"
	"github.com/arrears/arrears/internal/money"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		cur, in string
		want    int64
		ok      bool
	}{
		{"CNY", "1234.50", 123450, true},
		{"CNY", "1234.5", 123450, true},
		{"CNY", "0.01", 1, true},
		{"JPY", "1234", 1234, true},
		{"JPY", "12.5", 0, false},
		{"BHD", "1.125", 1125, true},
		{"CNY", "1.005", 0, false},
		{"CNY", "abc", 0, false},
		{"CNY", "10/4", 0, false},
		{"CNY", "0x1F", 0, false},
		{"CNY", "1e2", 0, false},
		{"IDR", "1.23457E+11", 0, false}, // 123,456,789,012.34 as a narrow spreadsheet column shows it
		{"CNY", "+.5", 50, true},
		{"XYZ", "1", 0, false},
	} {
		m, err := parseAmount(tc.cur, tc.in)
		if (err == nil) != tc.ok || (err == nil && m.MinorUnits != tc.want) {
			t.Errorf("parseAmount(%s, %q) = %v, %v; want %d ok=%v", tc.cur, tc.in, m, err, tc.want, tc.ok)
		}
	}
}

func TestReadersRefuseBadFiles(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"unknown-column.csv": "document_ref,colour\nA,red\n",
		"missing-column.csv": "document_ref\nA\n",
		"bad.txt":            "x",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if _, _, _, err := scan(context.Background(), nil, p); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	// A column named twice: which holds the value is anyone's guess.
	twice := filepath.Join(dir, "twice.csv")
	os.WriteFile(twice, []byte("document_ref,creditor,currency,amount,issued_on,amount\nA,CN:x,CNY,1.00,2025-07-01,2.00\n"), 0o600)
	if _, _, _, err := scan(context.Background(), nil, twice); err == nil || !strings.Contains(err.Error(), "twice") {
		t.Errorf("a header naming amount twice: %v", err)
	}
	// A trailing delimiter, as a spreadsheet's used range leaves it, on
	// every line or on the data rows only: the cells past the named
	// columns are blank and read as nothing; a value there is refused with
	// its row.
	for name, content := range map[string]string{
		"trailing-everywhere.csv": "document_ref,creditor,currency,amount,issued_on,\nT1,CN:x,CNY,1.00,2025-07-01,\nT2,CN:x,CNY,2.00,2025-07-01,\n",
		"trailing-rows.csv":       "document_ref,creditor,currency,amount,issued_on\nT1,CN:x,CNY,1.00,2025-07-01,\nT2,CN:x,CNY,2.00,2025-07-01, ,\n",
		"trailing-header.csv":     "document_ref,creditor,currency,amount,issued_on,,\nT1,CN:x,CNY,1.00,2025-07-01\nT2,CN:x,CNY,2.00,2025-07-01,\n",
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		if got := strings.Join(readAll(t, p), ","); got != "T1,T2" {
			t.Errorf("%s read as %s, want T1,T2", name, got)
		}
	}
	stray := filepath.Join(dir, "stray.csv")
	os.WriteFile(stray, []byte("document_ref,creditor,currency,amount,issued_on\nS1,CN:x,CNY,1.00,2025-07-01,oops\nS3,CN:x,CNY\nS2,CN:x,CNY,1.00,2025-07-01\n"), 0o600)
	if got := strings.Join(readAll(t, stray), "\n"); !strings.Contains(got, `rejected  (S1): "oops" in column 6`) || !strings.Contains(got, "rejected  (S3): 3 cells") || !strings.HasSuffix(got, "S2") {
		t.Errorf("a value past the named columns read as:\n%s", got)
	}
	// Files an engineer's spreadsheet writes by mistake are refused with
	// what to do about it.
	for name, c := range map[string]struct{ content, want string }{
		"utf16.csv":   {"\xff\xfed\x00o\x00c\x00", "is UTF-16 text"},
		"utf16le.csv": {"d\x00o\x00c\x00", "is UTF-16 text"},
		"semi.csv":    {"document_ref;creditor;currency;amount;issued_on\nA;CN:x;CNY;1.00;2025-07-01\n", "separated by semicolons or tabs"},
		"tabs.csv":    {"document_ref\tcreditor\tcurrency\tamount\tissued_on\n", "separated by semicolons or tabs"},
		"cr.csv":      {"document_ref,creditor,currency,amount,issued_on\rA,CN:x,CNY,1.00,2025-07-01\r", "carriage return alone"},
		"gbkhdr.csv":  {"document_ref,creditor,currency,amount,issued_on,\xb5\xa5\n", "the header row is not UTF-8 text"},
		"gbk.ndjson":  {"{\"documentRef\":\"A\"}\n{\"documentRef\":\"\xb9\xa9\"}\n", "record 2, line 2: not UTF-8 text; nothing was sent"},
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(c.content), 0o600)
		if _, _, _, err := scan(context.Background(), nil, p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	// Headings as a spreadsheet capitalises them.
	capital := filepath.Join(dir, "capital.csv")
	os.WriteFile(capital, []byte("Document_Ref, Creditor ,CURRENCY,Amount,Issued_On\nC1,CN:x,CNY,1.00,2025-07-01\n"), 0o600)
	if got := strings.Join(readAll(t, capital), ","); got != "C1" {
		t.Errorf("capitalised headings read as %s", got)
	}
	p := filepath.Join(dir, "ok.ndjson")
	os.WriteFile(p, []byte(`{"documentRef":"A","creditor":"parties/CN:x"}`+"\n\n"+`{"documentRef":"B"}`+"\n"), 0o600)
	n, digest, _, err := scan(context.Background(), nil, p)
	if err != nil || n != 2 || len(digest) != 64 {
		t.Errorf("ndjson scan = %d, %q, %v", n, digest, err)
	}
}

// TestParseAmountMatchesRat compares parseAmount with the exact big.Rat
// reading it used alone before, on random amounts in the plain form and in
// the others big.Rat reads (a plus sign, ".5", "5."), and refuses as
// big.Rat would not (an exponent, a fraction), for currencies of 0, 2 and 3
// decimals.
func TestParseAmountMatchesRat(t *testing.T) {
	byRat := func(currency, s string) (int64, bool) {
		cur, ok := money.LookupCurrency(currency)
		if !ok {
			return 0, false
		}
		if strings.ContainsAny(s, "/eE") {
			return 0, false // a fraction or an exponent is not an amount written in full
		}
		r, ok := new(big.Rat).SetString(s)
		if !ok {
			return 0, false
		}
		r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(cur.Digits)), nil)))
		if !r.IsInt() || !r.Num().IsInt64() {
			return 0, false
		}
		return r.Num().Int64(), true
	}
	r := rand.New(rand.NewPCG(11, 12))
	forms := []string{"%d", "%d.%d", "-%d.%d", "+%d.%d", ".%[2]d", "%d.", "%[1]de2", "%d/%d", "%d.%02d", "%d.%03d", "%d.%04d", " %d", "0%d.%d"}
	for range 100_000 {
		cur := []string{"CNY", "JPY", "BHD", "EUR"}[r.IntN(4)]
		whole := r.Int64N(1 << uint(r.IntN(63)))
		s := fmt.Sprintf(forms[r.IntN(len(forms))], whole, r.IntN(1000))
		want, wantOK := byRat(cur, s)
		m, err := parseAmount(cur, s)
		if (err == nil) != wantOK || (err == nil && (m.MinorUnits != want || m.CurrencyCode != cur)) {
			t.Fatalf("parseAmount(%s, %q) = %v, %v; big.Rat reads %d, ok=%v", cur, s, m, err, want, wantOK)
		}
	}
}

// TestScanStopsWhenCancelled: Ctrl-C while a file is being counted stops
// the count, as the interrupted run reports it.
func TestScanStopsWhenCancelled(t *testing.T) {
	p := filepath.Join(t.TempDir(), "big.ndjson")
	os.WriteFile(p, []byte(strings.Repeat(`{"documentRef":"A"}`+"\n", 10000)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, _, err := scan(ctx, nil, p); !errors.Is(err, context.Canceled) {
		t.Errorf("scan after Ctrl-C: %v", err)
	}
	if n, _, _, err := scan(context.Background(), nil, p); err != nil || n != 10000 {
		t.Errorf("scan: %d, %v", n, err)
	}
}

// readAll reads every record of a file, as the run does: each a record or
// the reason it cannot be read, naming the column.
func readAll(t *testing.T, path string) []string {
	t.Helper()
	r, err := openRecords(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []string
	for {
		rec, err := r.Next()
		var row *rowError
		switch {
		case errors.Is(err, io.EOF):
			return out
		case errors.As(err, &row):
			out = append(out, fmt.Sprintf("rejected %s (%s): %v", row.field, row.docRef, row.err))
		case err != nil:
			t.Fatal(err)
		default:
			out = append(out, rec.DocumentRef)
		}
	}
}

// TestReaderRejectsBadRowsNamingTheColumn: a value the client cannot read
// is a rejection of that row, naming its column and document reference,
// never a value silently dropped, replaced or wrapped around; the rows
// after it are read as before.
func TestReaderRejectsBadRowsNamingTheColumn(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "payables.csv")
	// A byte-order mark before a quoted header, as spreadsheets write it.
	content := "\ufeff\"document_ref\",\"creditor\",\"currency\",\"amount\",\"issued_on\",\"creditor_size_class\",\"agreed_term_days\",\"payment_reference\",\"payment_amount\",\"paid_on\"\n" +
		"A1,CN:x,CNY,10.00,2025-07-01,SMALL,60,,,\n" +
		"A2,CN:x,CNY,10.00,2025-07-01,SME,60,,,\n" +
		"A3,CN:x,CNY,10.00,2025-07-01,SMALL,4294967326,,,\n" +
		"A4,CN:x,CNY,10.00,2025-07-01,SMALL,60,,5.00,2025-08-01\n" +
		"A5,CN:x,CNY,10/4,2025-07-01,SMALL,60,,,\n" +
		"A16,CN:x,CNY,\"12,500.00\",2025-07-01,SMALL,60,,,\n" +
		"A17,CN:x,CNY,£1250.00,2025-07-01,SMALL,60,,,\n" +
		"A21,CN:x,CNY,1234.50 CNY,2025-07-01,SMALL,60,,,\n" +
		"A22,CN:x,CNY,1.2E+5,2025-07-01,SMALL,60,,,\n" +
		"A18,CN:x,CNY,10.00,01/07/2025,SMALL,60,,,\n" +
		"A19,CN:x,CNY,10.00,45839,SMALL,60,,,\n" +
		"A20,CN:x,CNY,10.00,2025-7-1,SMALL,60,,,\n" +
		",,,,,,,,,\n" + // rows of empty cells, as spreadsheets leave them: skipped
		"   \n" +
		"A9,CN:x,RMB,10.00,2025-07-01,SMALL,60,,,\n" +
		"A10,CN:x,,10.00,2025-07-01,SMALL,60,,,\n" +
		"A11,CN:x,CNY,,2025-07-01,SMALL,60,,,\n" +
		"A12,CN:x,CNY,10.00,2025-07-01,SMALL,60,P-12,,2025-08-01\n" +
		"A13,CN:x,CNY,10.00,2025-07-01,SMALL,99999999999,,,\n" +
		"A14,913501210000000012,CNY,10.00,2025-07-01,SMALL,60,,,\n" +
		"A15,0193a2b4-7c1d-7e2f-8a3b-4c5d6e7f8091,CNY,10.00,2025-07-01,SMALL,60,,,\n" +
		"A6,\"CN:x\" Ltd,CNY,10.00,2025-07-01,SMALL,60,,,\n" +
		"A7,CN:x,CNY,10.00,2025-07-01,SMALL,60,,,\n" +
		"A8,CN:x,CNY,10.00,2025-07-01,SMALL,60,,,\n"
	os.WriteFile(p, []byte(content), 0o600)
	got := strings.Join(readAll(t, p), "\n")
	for _, want := range []string{
		"A1",
		"rejected creditor_size_class (A2)",
		"rejected agreed_term_days (A3)",
		"rejected payment_reference (A4)",
		"rejected amount (A5)",
		"A5): \"10/4\" is not a decimal amount written in full (no exponent, no fraction): write amounts as plain decimals, such as 12500.00\n",
		"rejected amount (A16): \"12,500.00\" has a thousands or decimal separator other than a point",
		"rejected amount (A17): \"£1250.00\" has a currency sign",
		"rejected amount (A21): \"1234.50 CNY\" has letters: a currency code goes in the currency column",
		"rejected amount (A22): \"1.2E+5\" has an exponent",
		"rejected issued_on (A18): \"01/07/2025\" is not in the form YYYY-MM-DD",
		"rejected issued_on (A19): \"45839\" looks like a spreadsheet's day number",
		"rejected issued_on (A20): \"2025-7-1\" needs two digits",
		"\nrejected currency (A9): \"RMB\" is not an ISO 4217 currency code\nrejected currency (A10): required with an amount\n",
		"rejected amount (A11): required: the invoice's amount\nrejected payment_amount (A12): required with payment_reference\n",
		"rejected agreed_term_days (A13): \"99999999999\" is out of range for a number of days",
		"rejected creditor (A14): \"913501210000000012\" is not JURISDICTION:REGISTRATION_ID",
		"\nA15\n", // a party id is a party's name too
		"rejected creditor (A6): the value from line 23 runs over 2 line break(s), to line 25",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	// The unclosed quote took the rows after it: they are named in the
	// rejection, not read as records nor lost without a word.
	if strings.Contains(got, "\nA7") {
		t.Errorf("rows after an unclosed quote read as records:\n%s", got)
	}

	// NDJSON: a line too long to read is one bad record; the next is read.
	j := filepath.Join(dir, "payables.ndjson")
	long := `{"documentRef":"` + strings.Repeat("x", maxLineBytes) + `"}`
	os.WriteFile(j, []byte("\ufeff"+`{"documentRef":"J1"}`+"\n"+long+"\n\ufeff"+`{"documentRef":"J2"}`), 0o600)
	if got := strings.Join(readAll(t, j), "|"); got != "J1|rejected record (): line 2: over 16777216 bytes|J2" {
		t.Errorf("ndjson with an overlong line: %s", got)
	}
	// A line protojson refuses is named by the file's line (blank lines
	// counted), its field as the server names it, and its reference.
	os.WriteFile(j, []byte(`{"documentRef":"J1"}`+"\n\n\n"+`{"documentRef":"J4","amount2":1}`+"\n"+`{"documentRef":"J5","issuedOn":"2025-08-01"}`+"\n"), 0o600)
	want := `J1|rejected amount2 (J4): line 4: unknown field "amount2"|rejected issued_on (J5): line 5: syntax error: unexpected token "2025-08-01"`
	if got := strings.Join(readAll(t, j), "|"); got != want {
		t.Errorf("ndjson refused by protojson:\n%s\nwant\n%s", got, want)
	}
}

// TestRejectsFileKeepsWhatIsNotReadAgain: a resumed session keeps the
// rejections at or before its resume point, which it will not read again,
// and drops the later ones, which it reads and rejects again: each is
// listed once. A fresh session starts the file afresh.
func TestRejectsFileKeepsWhatIsNotReadAgain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rejected.ndjson")
	var b strings.Builder
	for seq := 1; seq <= 10; seq++ {
		fmt.Fprintf(&b, `{"sequence":"%d","outcome":"REJECTED"}`+"\n", seq)
	}
	b.WriteString("not json\n")
	os.WriteFile(path, []byte(b.String()), 0o600)
	r, err := openRejects(path, 5)
	if err != nil {
		t.Fatal(err)
	}
	// A second run of the file meanwhile is refused: it would write over
	// this one's lines.
	if second, err := lockRejects(path); locks && (err == nil || !strings.Contains(err.Error(), "in use by another run")) {
		t.Errorf("a second run's rejects file while the first holds it: %v", err)
	} else if err == nil {
		second.close()
	}
	if err := r.write(&arrearsv1.RecordResult{Sequence: 8, Outcome: "REJECTED"}); err != nil {
		t.Fatal(err)
	}
	r.close()
	data, _ := os.ReadFile(path)
	var seqs []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var x struct{ Sequence string }
		json.Unmarshal([]byte(line), &x)
		seqs = append(seqs, x.Sequence)
	}
	if len(r.held) != 6 || !r.held[5] || !r.held[8] || strings.Join(seqs, ",") != "1,2,3,4,5,8" {
		t.Errorf("resumed after 5: holds %v, file holds %v", r.held, seqs)
	}
	r, err = openRejects(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	r.close()
	if data, _ := os.ReadFile(path); len(data) != 0 || len(r.held) != 0 {
		t.Errorf("a fresh session kept %v: %q", r.held, data)
	}
	// A device is written, not truncated nor locked: two runs may both
	// send their rejections to /dev/null.
	if os.PathSeparator == '/' {
		a, errA := openRejects(os.DevNull, 5)
		b, errB := openRejects(os.DevNull, 0)
		if errA != nil || errB != nil {
			t.Fatalf("rejections to %s: %v, %v", os.DevNull, errA, errB)
		}
		if err := a.write(&arrearsv1.RecordResult{Sequence: 8, Outcome: "REJECTED"}); err != nil {
			t.Error(err)
		}
		a.close()
		b.close()
	}
}

// openRejects locks the rejects file and readies it as a run does.
func openRejects(path string, resumeAfter int64) (*rejectsFile, error) {
	r, err := lockRejects(path)
	if err != nil {
		return nil, err
	}
	if err := r.start(resumeAfter); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func TestRedrawCoversTheLongerLine(t *testing.T) {
	drawn := 0
	for _, step := range []struct{ line, want string }{
		{"10234 records/s", "\r10234 records/s"},
		{"9876 records/s", "\r9876 records/s "},
		{"12 records/s", "\r12 records/s  "},
		{"123456 records/s", "\r123456 records/s"},
	} {
		if got := redraw(step.line, &drawn); got != step.want {
			t.Errorf("redraw(%q) = %q, want %q", step.line, got, step.want)
		}
	}
}

// TestScanSaysWhenBlankRowsWereSkipped: rows of empty cells are not
// counted, and scan says it skipped some, so the default session name of
// such a file differs from the one an older client, which numbered them,
// gave it.
func TestScanSaysWhenBlankRowsWereSkipped(t *testing.T) {
	dir := t.TempDir()
	head := "document_ref,creditor,currency,amount,issued_on\n"
	for name, tc := range map[string]struct {
		body  string
		n     int64
		blank bool
	}{
		"plain.csv": {"A,CN:x,CNY,1.00,2025-07-01\nB,CN:x,CNY,1.00,2025-07-01\n", 2, false},
		"blank.csv": {"A,CN:x,CNY,1.00,2025-07-01\n,,,,\nB,CN:x,CNY,1.00,2025-07-01\n,,,,\n", 2, true},
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(head+tc.body), 0o600)
		n, _, blank, err := scan(context.Background(), nil, p)
		if err != nil || n != tc.n || blank != tc.blank {
			t.Errorf("%s: %d records, blank rows %v, %v; want %d, %v", name, n, blank, err, tc.n, tc.blank)
		}
	}
}

// TestUnclosedQuoteStopsAtTheBound: a quote opened and never closed in a
// large CSV file takes every line after it into one value; the reader
// stops once that row passes maxLineBytes, rather than reading the file
// into memory, and the run ends before anything is sent.
func TestUnclosedQuoteStopsAtTheBound(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.csv")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "document_ref,creditor,currency,amount,issued_on")
	fmt.Fprintln(f, "A-1,CN:x,CNY,1.00,2025-07-01")
	fmt.Fprintln(f, `A-2,"CN:x,CNY,1.00,2025-07-01`)
	row := "A-n,CN:x,CNY,1.00,2025-07-01\n"
	for written := 0; written <= maxLineBytes+len(row); written += len(row) {
		f.WriteString(row)
	}
	f.Close()
	_, _, _, err = scan(context.Background(), nil, path)
	if !errors.Is(err, errRunOn) || !strings.Contains(err.Error(), "record 2") {
		t.Errorf("a quote left open before %d MB of rows: %v", maxLineBytes>>20, err)
	}
}

// TestUnclosedQuoteStopsASmallFile: a value running over a line break
// stops the run before anything is sent, however small the file: synced,
// the file would lose the rows the quote took in under one rejection.
func TestUnclosedQuoteStopsASmallFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "payables.csv")
	rows := "document_ref,creditor,currency,amount,issued_on\nA-1,CN:x,CNY,1.00,2025-07-01\nA-2,\"CN:x,CNY,1.00,2025-07-01\n"
	for i := range 50 {
		rows += fmt.Sprintf("A-%d,CN:x,CNY,1.00,2025-07-01\n", i+3)
	}
	os.WriteFile(path, []byte(rows), 0o600)
	_, _, _, err := scan(context.Background(), nil, path)
	if !errors.Is(err, errLineBreak) || !strings.Contains(err.Error(), "record 2") || !strings.Contains(err.Error(), "from line 3 runs over 50 line break(s), to line 53") {
		t.Errorf("a quote left open in a small file: %v", err)
	}
}

// TestCSVColumnsReachTheirFields: each column of a full row, whatever the
// header's order, lands in its field of the record.
func TestCSVColumnsReachTheirFields(t *testing.T) {
	dir := t.TempDir()
	cells := map[string]string{
		"document_ref": "INV-7", "creditor": "CN:92350121MA0DEM101D", "creditor_name": "Minhou Castings",
		"creditor_size_class": "small", "creditor_region_code": "350121", "contract_ref": "C-9",
		"currency": "cny", "amount": "1234.50", "contract_signed_on": "2025-05-02", "issued_on": "2025-06-03",
		"received_on": "2025-06-04", "delivered_on": "2025-06-05", "agreed_term_days": "45",
		"agreed_due_date": "2025-07-20", "payment_reference": "PAY-1", "payment_amount": "100.25", "paid_on": "2025-07-01",
		"payment_reversed_on": "2025-07-09", "payment_reversal_reason": "returned by the bank",
		"cancelled_on": "2025-07-10", "cancel_reason": "issued twice",
	}
	for _, c := range columnList {
		if cells[c] == "" {
			t.Fatalf("no cell for column %s", c)
		}
	}
	// The header backwards, with a column of no name in the middle.
	var header, row []string
	for i := len(columnList) - 1; i >= 0; i-- {
		header, row = append(header, columnList[i]), append(row, cells[columnList[i]])
		if i == 8 {
			header, row = append(header, ""), append(row, "")
		}
	}
	p := filepath.Join(dir, "one.csv")
	os.WriteFile(p, []byte(strings.Join(header, ",")+"\n"+strings.Join(row, ",")+"\n"), 0o600)
	r, err := openRecords(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := r.Next()
	if err != nil {
		t.Fatal(err)
	}
	date := func(y, m, d int32) *arrearsv1.Date { return &arrearsv1.Date{Year: y, Month: m, Day: d} }
	want := &arrearsv1.PayableRecord{
		DocumentRef: "INV-7", Creditor: "parties/CN:92350121MA0DEM101D", CreditorName: "Minhou Castings",
		CreditorSizeClass: arrearsv1.SizeClass_SIZE_CLASS_SMALL, CreditorRegionCode: "350121", ContractRef: "C-9",
		Amount:           &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: 123450},
		ContractSignedOn: date(2025, 5, 2), IssuedOn: date(2025, 6, 3), ReceivedOn: date(2025, 6, 4), DeliveredOn: date(2025, 6, 5),
		AgreedTermDays: 45, AgreedDueDate: date(2025, 7, 20), CancelledOn: date(2025, 7, 10), CancelReason: "issued twice",
		Payments: []*arrearsv1.PayablePayment{{Reference: "PAY-1", Amount: &arrearsv1.Money{CurrencyCode: "CNY", MinorUnits: 10025}, PaidOn: date(2025, 7, 1),
			ReversedOn: date(2025, 7, 9), ReversalReason: "returned by the bank"}},
	}
	if !proto.Equal(got, want) {
		t.Errorf("row read as\n%v\nwant\n%v", got, want)
	}
}

// TestProgressFitsEightyColumns: the progress line of a file of ten
// million records, all acknowledged at a high rate, fits an 80-column
// terminal, where a wider one wraps and each redraw leaves a line behind.
func TestProgressFitsEightyColumns(t *testing.T) {
	var out strings.Builder
	rep := &Report{Total: 10_000_000, Acknowledged: 10_000_000}
	var mu sync.Mutex
	stop := Options{Progress: &out, Every: time.Hour}.progress(rep, &mu, time.Now().Add(-time.Millisecond))
	stop()
	line := strings.TrimSpace(out.String())
	if n := utf8.RuneCountInString(line); n > 79 || !strings.Contains(line, "10000000/10000000 records") {
		t.Errorf("the progress line is %d columns: %q", n, line)
	}
}

// TestProgressFitsANarrowTerminal: on a terminal narrower than 80 columns
// the line fits it, the bar shrinking, then left out and the figures cut.
func TestProgressFitsANarrowTerminal(t *testing.T) {
	for _, columns := range []int{70, 30} {
		var out strings.Builder
		rep := &Report{Total: 10_000_000, Acknowledged: 5_000_000}
		var mu sync.Mutex
		stop := Options{Progress: &out, Terminal: true, Columns: func() int { return columns }, Every: time.Hour}.progress(rep, &mu, time.Now().Add(-10*time.Second))
		stop()
		line := strings.TrimSpace(strings.TrimPrefix(out.String(), "\r"))
		if n := utf8.RuneCountInString(line); n >= columns || !strings.HasPrefix(line, map[int]string{70: "[", 30: "50.0%  5000000/"}[columns]) {
			t.Errorf("%d columns: the progress line is %d: %q", columns, n, line)
		}
	}
}

// TestProgressIsLoggedWithoutATerminal: written to a file (a cron job's
// log), progress is a plain line now and then, not one at the end only.
func TestProgressIsLoggedWithoutATerminal(t *testing.T) {
	var out syncBuffer
	rep := &Report{Total: 100, Acknowledged: 40}
	var mu sync.Mutex
	stop := Options{Progress: &out, Every: time.Millisecond, LogEvery: 5 * time.Millisecond}.progress(rep, &mu, time.Now())
	time.Sleep(100 * time.Millisecond)
	stop()
	got := out.String()
	if n := strings.Count(got, "40/100 records"); n < 3 || strings.ContainsAny(got, "\r") {
		t.Errorf("progress without a terminal, %d lines:\n%s", n, got)
	}
}

// syncBuffer is a strings.Builder safe for one writer and a reader after.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// limitedClient answers ListSyncRejections over the rate limit the first
// times it is asked, as a server does to a key past its budget, then with
// the rejections.
type limitedClient struct {
	arrearsv1.SyncServiceClient
	refusals int
	asked    int
}

func (c *limitedClient) ListSyncRejections(ctx context.Context, in *arrearsv1.ListSyncRejectionsRequest, _ ...grpc.CallOption) (*arrearsv1.ListSyncRejectionsResponse, error) {
	c.asked++
	if c.asked <= c.refusals {
		st, _ := status.New(codes.ResourceExhausted, "rate limit").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(time.Millisecond)})
		return nil, st.Err()
	}
	return &arrearsv1.ListSyncRejectionsResponse{Rejections: []*arrearsv1.RecordResult{{Sequence: 2, Outcome: "REJECTED"}, {Sequence: 5, Outcome: "REJECTED"}}}, nil
}

// TestRejectionsListedPastTheRateLimit: a resume lists the session's kept
// rejections a page at a time, each page one of the key's rate-limited
// calls; a page refused over the limit is asked for again after the wait
// the server gives, rather than ending the run (which every rerun then
// met again).
func TestRejectionsListedPastTheRateLimit(t *testing.T) {
	c := &limitedClient{refusals: 3}
	n, err := recoverRejections(context.Background(), c, "parties/x/syncSessions/s", 10, &rejectsFile{held: map[int64]bool{}})
	if err != nil || n != 2 || c.asked != 4 {
		t.Errorf("listed past the rate limit: %d found, %v, asked %d times; want 2 found on the fourth", n, err, c.asked)
	}
}

// TestServerNeverReachedIsNotWaitedFor: a server the run never reached (no
// one listening, as for a wrong host or port) is reported at once, not
// retried as one that went away mid-run.
func TestServerNeverReachedIsNotWaitedFor(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	path := filepath.Join(t.TempDir(), "payables.csv")
	os.WriteFile(path, []byte("document_ref,creditor,creditor_name,currency,amount,issued_on\nA-1,CN:x,Supplier,CNY,10.00,2025-07-02\n"), 0o600)
	retried := 0
	_, err = RunRetrying(context.Background(), Options{Conn: conn, Token: "t", Debtor: "parties/x", File: path},
		Retry{Attempts: 3, Wait: 10 * time.Millisecond, Notify: func(error, time.Duration) { retried++ }})
	if status.Code(err) != codes.Unavailable || retried != 0 {
		t.Errorf("a server never reached: %v, retried %d times; want UNAVAILABLE at once", err, retried)
	}
}

// TestRejectsFileIsNotTheInput: a rejects file that is the file being
// synced, by its name or through a link, is refused before anything is
// written, and the file is left whole.
func TestRejectsFileIsNotTheInput(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "payables.csv")
	const content = "document_ref,creditor,creditor_name,currency,amount,issued_on\nA-1,CN:x,Supplier,CNY,10.00,2025-07-02\n"
	os.WriteFile(path, []byte(content), 0o600)
	link := filepath.Join(dir, "link.ndjson")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	for _, rejects := range []string{path, link} {
		_, err := Run(context.Background(), Options{Token: "t", Debtor: "parties/x", File: path, Rejects: rejects})
		if err == nil || !strings.Contains(err.Error(), "is the file being synced") {
			t.Errorf("-rejects %s: %v, want refused", rejects, err)
		}
		if b, _ := os.ReadFile(path); string(b) != content {
			t.Fatalf("-rejects %s: the input now holds %q", rejects, b)
		}
	}
}

// refusingSync is a sync server that answers every stream with one error,
// as a server whose database is down answers the key check.
type refusingSync struct {
	arrearsv1.UnimplementedSyncServiceServer
	err error
}

func (s refusingSync) SyncPayables(arrearsv1.SyncService_SyncPayablesServer) error { return s.err }

// TestAnsweringServerIsWaitedFor: a server that answers, refusing the run
// UNAVAILABLE (its database down), ABORTED (a conflict) or
// DEADLINE_EXCEEDED (its stream closed as idle), was reached, so
// the run waits and tries again, up to the attempts given, though it never
// opened the session; a report of a session never opened says so.
func TestAnsweringServerIsWaitedFor(t *testing.T) {
	for _, refusal := range []error{
		status.Error(codes.Unavailable, "cannot check the API key now; retry later"),
		status.Error(codes.Aborted, "the request conflicted with a concurrent change; retry it"),
		status.Error(codes.DeadlineExceeded, "no message for 10m0s with nothing in flight: the stream is closed; open the session again to resume"),
	} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		srv := grpc.NewServer()
		arrearsv1.RegisterSyncServiceServer(srv, refusingSync{err: refusal})
		go srv.Serve(l)
		conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "payables.csv")
		os.WriteFile(path, []byte("document_ref,creditor,creditor_name,currency,amount,issued_on\nA-1,CN:x,Supplier,CNY,10.00,2025-07-02\n"), 0o600)
		retried := 0
		rep, err := RunRetrying(context.Background(), Options{Conn: conn, Token: "t", Debtor: "parties/x", File: path},
			Retry{Attempts: 3, Wait: time.Millisecond, Notify: func(error, time.Duration) { retried++ }})
		if status.Code(err) != status.Code(refusal) || retried != 3 || rep == nil || rep.SessionOpened() {
			t.Errorf("a server refusing %v: %v, retried %d times, report %+v; want retried 3 times, the session never opened", status.Code(refusal), err, retried, rep)
		}
		conn.Close()
		srv.Stop()
	}
}

// progressThenDown is a sync server whose first stream opens the session,
// acknowledges the first chunk and then ends UNAVAILABLE, and whose later
// streams end UNAVAILABLE at once, as a server that went down for good
// after some progress.
type progressThenDown struct {
	arrearsv1.UnimplementedSyncServiceServer
	streams atomic.Int32
}

func (s *progressThenDown) SyncPayables(stream arrearsv1.SyncService_SyncPayablesServer) error {
	down := status.Error(codes.Unavailable, "the server is stopping")
	if s.streams.Add(1) > 1 {
		return down
	}
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Opened{Opened: &arrearsv1.SyncOpened{Session: "s"}}}); err != nil {
		return err
	}
	req, err := stream.Recv()
	if err != nil {
		return err
	}
	recs := req.GetChunk().GetRecords()
	res := &arrearsv1.ChunkResult{AcknowledgedSequence: recs[len(recs)-1].Sequence}
	for _, r := range recs {
		res.Results = append(res.Results, &arrearsv1.RecordResult{Sequence: r.Sequence, DocumentRef: r.DocumentRef, Outcome: "CREATED"})
	}
	if err := stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Chunk{Chunk: res}}); err != nil {
		return err
	}
	return down
}

// serveSync serves impl on a loopback port for the test and returns a
// client connection to it.
func serveSync(t *testing.T, impl arrearsv1.SyncServiceServer) *grpc.ClientConn {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	arrearsv1.RegisterSyncServiceServer(srv, impl)
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	conn, err := grpc.NewClient(l.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestRetriesAfterProgressAreCounted: after a run that made progress, the
// attempts count afresh, and the failure that ended it is the first of
// them: -retries 2 resumes twice, not three times.
func TestRetriesAfterProgressAreCounted(t *testing.T) {
	fake := &progressThenDown{}
	conn := serveSync(t, fake)
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,currency,amount,issued_on\n")
	for i := range 20 {
		fmt.Fprintf(&b, "A-%d,CN:x,Supplier,CNY,10.00,2025-07-02\n", i)
	}
	path := filepath.Join(t.TempDir(), "payables.csv")
	os.WriteFile(path, []byte(b.String()), 0o600)
	for _, attempts := range []int{0, 2} {
		fake.streams.Store(0)
		retried := 0
		_, err := RunRetrying(context.Background(), Options{Conn: conn, Token: "t", Debtor: "parties/x", File: path, Chunk: 5, Window: 1},
			Retry{Attempts: attempts, Wait: time.Millisecond, Notify: func(error, time.Duration) { retried++ }})
		if status.Code(err) != codes.Unavailable || retried != attempts || int(fake.streams.Load()) != attempts+1 {
			t.Errorf("-retries %d: %v after %d retries and %d streams; want UNAVAILABLE after %d retries", attempts, err, retried, fake.streams.Load(), attempts)
		}
	}
}

// TestRejectionsAheadOfTheAcknowledgedAreCounted: a run cut off after the
// server acknowledged its first chunk has already read, and refused, a row
// past it; the report says how many of its rejections lie past the
// acknowledged record, so that its figures add up.
func TestRejectionsAheadOfTheAcknowledgedAreCounted(t *testing.T) {
	conn := serveSync(t, &progressThenDown{})
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,currency,amount,issued_on\n")
	for i := range 10 {
		amount := "10.00"
		if i == 7 {
			amount = "10/4"
		}
		fmt.Fprintf(&b, "A-%d,CN:x,Supplier,CNY,%s,2025-07-02\n", i, amount)
	}
	path := filepath.Join(t.TempDir(), "payables.csv")
	os.WriteFile(path, []byte(b.String()), 0o600)
	rep, err := Run(context.Background(), Options{Conn: conn, Token: "t", Debtor: "parties/x", File: path, Chunk: 5, Window: 1})
	if status.Code(err) != codes.Unavailable || rep.Acknowledged != 5 || rep.Outcomes["CREATED"] != 5 || rep.Outcomes["REJECTED"] != 1 || rep.Ahead != 1 {
		t.Errorf("cut off after the first chunk: %v, acknowledged %d, outcomes %v, ahead %d; want 5 acknowledged, 5 created, 1 rejected ahead",
			err, rep.Acknowledged, rep.Outcomes, rep.Ahead)
	}
}

// resumingSync is a sync server whose session stands where opened says,
// and which acknowledges every chunk sent after.
type resumingSync struct {
	arrearsv1.UnimplementedSyncServiceServer
	opened *arrearsv1.SyncOpened
	sent   atomic.Int32 // records received
}

func (s *resumingSync) SyncPayables(stream arrearsv1.SyncService_SyncPayablesServer) error {
	if _, err := stream.Recv(); err != nil {
		return err
	}
	if err := stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Opened{Opened: s.opened}}); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		recs := req.GetChunk().GetRecords()
		s.sent.Add(int32(len(recs)))
		res := &arrearsv1.ChunkResult{AcknowledgedSequence: recs[len(recs)-1].Sequence}
		for _, r := range recs {
			res.Results = append(res.Results, &arrearsv1.RecordResult{Sequence: r.Sequence, DocumentRef: r.DocumentRef, Outcome: "CREATED"})
		}
		if err := stream.Send(&arrearsv1.SyncPayablesResponse{Kind: &arrearsv1.SyncPayablesResponse_Chunk{Chunk: res}}); err != nil {
			return err
		}
	}
}

// TestResumeCheckOfAnEarlierRecord: a session's check names the record it
// was taken at. One left behind by a chunk a server of an older release
// applied (it keeps no check, and moved the session on past it) still
// checks the records up to it: the same file resumes, another is refused
// before anything is sent. A check in another form is not one.
func TestResumeCheckOfAnEarlierRecord(t *testing.T) {
	var b strings.Builder
	b.WriteString("document_ref,creditor,creditor_name,currency,amount,issued_on\n")
	chain := newResumeChain()
	chain.add(strings.Split("document_ref,creditor,creditor_name,currency,amount,issued_on", ","), nil)
	for i := range 10 {
		row := fmt.Sprintf("A-%d,CN:x,Supplier,CNY,10.00,2025-07-02", i)
		fmt.Fprintln(&b, row)
		if i < 5 {
			chain.add(strings.Split(row, ","), nil)
		}
	}
	path := filepath.Join(t.TempDir(), "payables.csv")
	os.WriteFile(path, []byte(b.String()), 0o600)
	for _, c := range []struct {
		check              string
		refused, unchecked bool
	}{
		{"5:" + chain.String(), false, true},          // records 6 and 7 unchecked
		{"5:" + strings.Repeat("0", 64), true, false}, // refused before the resume is said
		{chain.String(), false, true},                 // no record named: not a check
		{"9:" + chain.String(), false, true},
	} {
		fake := &resumingSync{opened: &arrearsv1.SyncOpened{Session: "s", ResumeAfter: 7, ResumeCheck: c.check}}
		conn := serveSync(t, fake)
		var progress strings.Builder
		// A rejects file of the session's own: a refused run leaves it.
		rejects := filepath.Join(t.TempDir(), "rejected.ndjson")
		const held = `{"sequence":"2","outcome":"REJECTED"}` + "\n"
		os.WriteFile(rejects, []byte(held), 0o600)
		rep, err := Run(context.Background(), Options{Conn: conn, Token: "t", Debtor: "parties/x", File: path, Session: "s", Progress: &progress, Every: time.Hour, Rejects: rejects})
		if b, _ := os.ReadFile(rejects); c.refused && string(b) != held {
			t.Errorf("check %q: the rejects file of a refused run holds %q, want it as it was", c.check, b)
		}
		if unchecked := strings.Contains(progress.String(), "gave no check") || strings.Contains(progress.String(), "records 6 to 7 are skipped by position, unchecked"); unchecked != c.unchecked {
			t.Errorf("check %q: warned of no check %v", c.check, unchecked)
		}
		switch {
		case c.refused && (err == nil || !strings.Contains(err.Error(), "its first 5 records are not those the session acknowledged") || fake.sent.Load() != 0):
			t.Errorf("check %q: %v after sending %d records, want refused before sending", c.check, err, fake.sent.Load())
		case !c.refused && (err != nil || rep.Acknowledged != 10 || fake.sent.Load() != 3):
			t.Errorf("check %q: %v, %d records sent; want the 3 after the resume point", c.check, err, fake.sent.Load())
		}
	}
}

// TestResumeCheckCoversTheHeader: headings swapped over the same cells
// make another file; and only the server's own closes of a stream as idle
// are DEADLINE_EXCEEDED answers to resume from.
func TestResumeCheckCoversTheHeader(t *testing.T) {
	dir := t.TempDir()
	write := func(name, header string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(header+"\nA-1,CN:x,CNY,10.00,2025-07-02,2025-07-03\n"), 0o600)
		return p
	}
	orig := write("orig.csv", "document_ref,creditor,currency,amount,issued_on,received_on")
	swapped := write("swapped.csv", "document_ref,creditor,currency,amount,received_on,issued_on")
	chain := newResumeChain()
	chain.add(strings.Split("document_ref,creditor,currency,amount,issued_on,received_on", ","), nil)
	chain.add(strings.Split("A-1,CN:x,CNY,10.00,2025-07-02,2025-07-03", ","), nil)
	if err := checkPrefix(orig, 1, chain.String()); err != nil {
		t.Errorf("the same file: %v", err)
	}
	if err := checkPrefix(swapped, 1, chain.String()); err == nil {
		t.Error("headings swapped over the same cells: accepted")
	}
	if !Resumable(status.Error(codes.DeadlineExceeded, "no message for 10m0s with nothing in flight: the stream is closed; open the session again to resume")) ||
		Resumable(status.Error(codes.DeadlineExceeded, "the request ran past its time limit")) {
		t.Error("DEADLINE_EXCEEDED: only the server's idle close is resumed from")
	}
}
