// Package regid validates and normalises the registration identifiers that
// name a firm in its jurisdiction, so that the ledger stores each creditor and
// debtor under one canonical spelling and a typing mistake is caught when the
// firm is entered rather than when a claim is matched against it later.
//
// A jurisdiction is named by an ISO 3166-1 alpha-2 code: CN, GB, AU, US and
// the 27 member states of the European Union. Each jurisdiction has exactly
// one scheme:
//
//   - CN: the 18-character unified social credit code (GB 32100-2015), with
//     its check character;
//   - GB: the 8-character Companies House company number;
//   - AU: the 11-digit Australian Business Number, with its check digits;
//   - US: the 9-digit employer identification number, written NN-NNNNNNN;
//   - EU member states: the VAT identification number with its two-letter
//     country prefix, which for Greece is EL rather than GR.
//
// [Normalize] is the single entry point for input. Its canonical output is a
// fixed point: normalising a canonical identifier again returns it unchanged,
// so stored values can be re-validated at any time without drifting.
//
// Check characters are verified where the scheme defines one and this package
// implements it (CN, AU, and the VAT numbers of BE, DE, FR, IT and NL). For the
// other member states only the published format (length and character classes)
// is checked, so a well-formed but unissued number is accepted; only the
// issuing authority (for VAT numbers, the EU VIES service) can say whether a
// number is actually registered.
//
// Error messages are plain sentences without the name of the field, such as
// "must be 18 characters, got 17" or "check character is 'Y', want '3'", so
// callers can prefix them with whatever label their form or API uses.
package regid
