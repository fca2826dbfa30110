package ledger

import (
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/arrears/arrears/internal/regid"
)

// PartyKind says what kind of organisation a party is; the law treats debtors
// by kind (public bodies get a hard cap on terms in China and the EU).
type PartyKind string

const (
	KindLargeEnterprise PartyKind = "LARGE_ENTERPRISE"
	KindPublicBody      PartyKind = "PUBLIC_BODY"
	KindSME             PartyKind = "SME"
	// KindRegulator is an authority that receives and handles complaints:
	// an SME department, a provincial office. Its remit is its jurisdiction
	// and region.
	KindRegulator PartyKind = "REGULATOR"
)

// Valid reports whether k is one of the kinds above.
func (k PartyKind) Valid() bool {
	return k == KindLargeEnterprise || k == KindPublicBody || k == KindSME || k == KindRegulator
}

// RemitPrefix is the region-code prefix a regulator party covers: in China
// the administrative division code without its trailing "00" pairs (350000
// is Fujian province, 350100 Fuzhou city, 350102 a district); elsewhere the
// region code itself.
func (p *Party) RemitPrefix() string {
	r := p.RegionCode
	if p.Jurisdiction == "CN" {
		for len(r) > 2 && strings.HasSuffix(r, "00") {
			r = r[:len(r)-2]
		}
	}
	return r
}

// Covers reports whether regulator p's remit includes party q.
func (p *Party) Covers(q *Party) bool {
	return p.Kind == KindRegulator && p.Jurisdiction == q.Jurisdiction && strings.HasPrefix(q.RegionCode, p.RemitPrefix())
}

// SizeClass is an enterprise's size under its jurisdiction's SME criteria.
type SizeClass string

const (
	SizeMicro  SizeClass = "MICRO"
	SizeSmall  SizeClass = "SMALL"
	SizeMedium SizeClass = "MEDIUM"
	SizeLarge  SizeClass = "LARGE"
)

// Valid reports whether s is one of the classes above.
func (s SizeClass) Valid() bool {
	return s == SizeMicro || s == SizeSmall || s == SizeMedium || s == SizeLarge
}

// IsSME reports whether the class is micro, small or medium: the suppliers
// the payment laws protect.
func (s SizeClass) IsSME() bool { return s == SizeMicro || s == SizeSmall || s == SizeMedium }

// Party is a debtor or creditor, identified in its jurisdiction by
// (Jurisdiction, RegistrationID).
type Party struct {
	ID             uuid.UUID `json:"id"`
	DisplayName    string    `json:"display_name"`
	Kind           PartyKind `json:"kind"`
	SizeClass      SizeClass `json:"size_class"`
	Jurisdiction   string    `json:"jurisdiction"`
	RegistrationID string    `json:"registration_id"`
	RegionCode     string    `json:"region_code"`
	IndustryCode   string    `json:"industry_code"`
	// Unverified marks a party created from someone else's records (a
	// supplier named by its debtor) until it is confirmed.
	Unverified bool      `json:"unverified"`
	Version    int64     `json:"version"`
	CreateTime time.Time `json:"create_time"`
	UpdateTime time.Time `json:"update_time"`
}

var (
	cnRegionRE   = regexp.MustCompile(`^[0-9]{6}$`)
	regionRE     = regexp.MustCompile(`^[A-Z0-9][A-Z0-9.-]{0,19}$`)
	industryRE   = regexp.MustCompile(`^[A-Z0-9][A-Z0-9.-]{0,15}$`)
	maxNameRunes = 300
)

// ValidateRegionPrefix checks a region prefix (a filter, a regulator's
// remit): empty, or the start of a region code, in its alphabet. Anything
// else matches no party, and a NUL is not even text to PostgreSQL.
func ValidateRegionPrefix(v *ValidationError, field, s string) {
	if s != "" && !regionRE.MatchString(s) {
		v.Add(field, "must be the start of a region code: 1-20 letters, digits, dots or dashes, starting with a letter or digit")
	}
}

// Normalize puts the fields in canonical form (trimmed, upper-case codes,
// canonical registration id; an SME's default size; LARGE for other kinds)
// and validates them. Field names in the error are the party's own.
func (p *Party) Normalize() error {
	var v ValidationError
	p.DisplayName = strings.TrimSpace(p.DisplayName)
	p.Jurisdiction = strings.ToUpper(strings.TrimSpace(p.Jurisdiction))
	p.RegionCode = strings.ToUpper(strings.TrimSpace(p.RegionCode))
	p.IndustryCode = strings.ToUpper(strings.TrimSpace(p.IndustryCode))

	switch n := utf8.RuneCountInString(p.DisplayName); {
	case n == 0:
		v.Add("display_name", "is required")
	case n > maxNameRunes:
		v.Add("display_name", "is %d characters long, at most %d are allowed", n, maxNameRunes)
	default:
		ValidateText(&v, "display_name", p.DisplayName)
	}
	if !p.Kind.Valid() {
		v.Add("kind", "must be LARGE_ENTERPRISE, PUBLIC_BODY, SME or REGULATOR")
	}
	switch {
	case p.Kind == KindSME && p.SizeClass == "":
		v.Add("size_class", "is required for an SME: MICRO, SMALL or MEDIUM")
	case p.Kind == KindSME && !p.SizeClass.IsSME():
		v.Add("size_class", "must be MICRO, SMALL or MEDIUM for an SME")
	case p.Kind.Valid() && p.Kind != KindSME && p.SizeClass != "" && p.SizeClass != SizeLarge:
		v.Add("size_class", "must be LARGE or unset for a %s", p.Kind)
	case p.Kind.Valid() && p.Kind != KindSME:
		p.SizeClass = SizeLarge
	}
	if !regid.IsJurisdiction(p.Jurisdiction) {
		v.Add("jurisdiction", "%q is not a supported jurisdiction (CN, GB, AU, US or an EU member state)", p.Jurisdiction)
	} else if canon, err := regid.Normalize(p.Jurisdiction, p.RegistrationID); err != nil {
		v.Add("registration_id", "is not a valid %s: %v", regid.Scheme(p.Jurisdiction), err)
	} else {
		p.RegistrationID = canon
	}
	switch {
	case p.RegionCode == "":
		v.Add("region_code", "is required")
	case p.Jurisdiction == "CN" && !cnRegionRE.MatchString(p.RegionCode):
		v.Add("region_code", "must be a 6-digit administrative division code in CN")
	case !regionRE.MatchString(p.RegionCode):
		v.Add("region_code", "must be 1-20 letters, digits, dots or dashes, starting with a letter or digit")
	}
	if p.IndustryCode != "" && !industryRE.MatchString(p.IndustryCode) {
		v.Add("industry_code", "must be 1-16 letters, digits, dots or dashes, starting with a letter or digit")
	}
	return v.Err()
}
