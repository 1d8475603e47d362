package logingov

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/piivault/piivault/vault"
)

// How Login.gov attributes (Pii::Attributes members, section 9 of the
// format document) map onto vault.Identity. Every other attribute, and
// every value that does not fit its vault field's format, is kept in the
// extras (see Split).
var attrToIdentity = map[string]func(*vault.Identity) *string{
	"first_name":            func(id *vault.Identity) *string { return &id.GivenName },
	"middle_name":           func(id *vault.Identity) *string { return &id.MiddleName },
	"last_name":             func(id *vault.Identity) *string { return &id.FamilyName },
	"address1":              func(id *vault.Identity) *string { return &id.Address.Line1 },
	"address2":              func(id *vault.Identity) *string { return &id.Address.Line2 },
	"city":                  func(id *vault.Identity) *string { return &id.Address.City },
	"state":                 func(id *vault.Identity) *string { return &id.Address.State },
	"zipcode":               func(id *vault.Identity) *string { return &id.Address.ZIPCode },
	"ssn":                   func(id *vault.Identity) *string { return &id.SSN },
	"dob":                   func(id *vault.Identity) *string { return &id.BirthDate },
	"phone":                 func(id *vault.Identity) *string { return &id.Phone },
	"state_id_jurisdiction": func(id *vault.Identity) *string { return &id.Document.Issuer },
}

// ModelledAttributes returns the Login.gov attribute names that map onto a
// vault.Identity field, sorted. Every other attribute goes to the extras.
func ModelledAttributes() []string {
	out := make([]string, 0, len(attrToIdentity))
	for k := range attrToIdentity {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Split maps the PII onto a vault.Identity and keeps the rest:
//
//   - first_name, middle_name, last_name, address1, address2, city, state,
//     zipcode, ssn, dob, phone and state_id_jurisdiction (the ID's issuing
//     state, as Document.Issuer) fill the Identity when their value is a
//     string that fits the field's format, after lossless reformatting
//     only: dob MM/DD/YYYY to YYYY-MM-DD, ssn 123-45-6789 to 123456789,
//     zipcode 123456789 to 12345-6789, phone to E.164 (a 10-digit or
//     1+10-digit number is read as North American, +1);
//   - every other attribute (identity_doc_*, issuing_country_code,
//     ipp_current_address_matches_id, same_address_as_id, otp, prev_*,
//     the 2023 state_id_* names, keys unknown today), and every modelled
//     attribute whose value does not fit, is kept in extras as its raw
//     JSON value, under its Login.gov name;
//   - null values and empty strings are unset and kept nowhere.
//
// The Identity returned always passes Validate. No value is trimmed or
// case-folded; that is left to the new system.
func (p *PII) Split() (id *vault.Identity, extras map[string]json.RawMessage) {
	id = &vault.Identity{}
	extras = map[string]json.RawMessage{}
	for name, raw := range p.attrs {
		t := bytes.TrimSpace(raw)
		if string(t) == "null" || string(t) == `""` {
			continue
		}
		field, ok := attrToIdentity[name]
		var s string
		if ok && json.Unmarshal(t, &s) == nil && t[0] == '"' {
			if v, fits := fit(name, s); fits {
				*field(id) = v
				probe := vault.Identity{}
				*field(&probe) = v
				if probe.Validate() == nil {
					continue
				}
				*field(id) = ""
			}
		}
		extras[name] = bytes.Clone(t)
	}
	return id, extras
}

// fit reformats a modelled value losslessly into its vault field's format
// when it can.
func fit(name, s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	switch name {
	case "dob":
		if len(s) == 10 && s[2] == '/' && s[5] == '/' && digits(s[:2]) && digits(s[3:5]) && digits(s[6:]) {
			return s[6:] + "-" + s[:2] + "-" + s[3:5], true
		}
	case "ssn":
		if len(s) == 11 && s[3] == '-' && s[6] == '-' && digits(s[:3]) && digits(s[4:6]) && digits(s[7:]) {
			return s[:3] + s[4:6] + s[7:], true
		}
	case "zipcode":
		if len(s) == 9 && digits(s) {
			return s[:5] + "-" + s[5:], true
		}
	case "phone":
		return e164(s)
	}
	return s, true
}

// e164 removes the punctuation people type in phone numbers (spaces,
// dashes, dots, parentheses) and returns +digits; a bare 10-digit number,
// or 11 digits starting with 1, is read as North American (+1).
func e164(s string) (string, bool) {
	plus := strings.HasPrefix(s, "+")
	if plus {
		s = s[1:]
	}
	var d []byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case '0' <= c && c <= '9':
			d = append(d, c)
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", false
		}
	}
	switch {
	case plus:
	case len(d) == 10:
		d = append([]byte("1"), d...)
	case len(d) == 11 && d[0] == '1':
	default:
		return "", false
	}
	return "+" + string(d), true
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
