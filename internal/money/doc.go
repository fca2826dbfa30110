// Package money holds amounts as int64 minor units with an ISO 4217 code, so
// that every sum the ledger computes is exact: no binary floating point, no
// rounding, and no silent mixing of currencies.
//
// A [Money] is a count of the currency's smallest unit (fen for CNY, cents for
// USD, yen for JPY, fils for BHD) plus its three-letter code. Arithmetic is
// only defined between amounts of the same currency and reports int64
// overflow instead of wrapping around, because a wrapped balance would turn a
// large debt into a large credit.
//
// The textual form, produced by [Money.String] and read by [Parse], is the
// code, one space and the amount with exactly as many decimals as the
// currency has minor-unit digits: "CNY 1234.50", "JPY 1234", "BHD 0.125",
// "CNY -0.05". It is meant for logs, fixtures and plain-text exports; it has
// no thousands separators and no locale-specific symbols.
//
// Only currencies listed in ISO 4217 List one that can denominate a debt are
// known (see [LookupCurrency]); fund codes, units of account, precious metals
// and the testing codes are refused.
package money
