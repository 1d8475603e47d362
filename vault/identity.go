package vault

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"
)

// Identity is a typed identity record: the personal information a
// Login.gov-style service verifies. Every field is optional (empty); a
// non-empty field must have its documented format. Tests use synthetic
// people only.
//
// Go strings cannot be cleared: an Identity's contents stay in memory until
// the garbage collector reuses it. Keep Identities short-lived.
type Identity struct {
	GivenName, MiddleName, FamilyName string
	BirthDate                         string // YYYY-MM-DD, a valid calendar date
	SSN                               string // exactly 9 ASCII digits, no dashes
	Phone                             string // E.164: '+' then 1 to 15 digits, the first not 0
	Address                           Address
	Document                          IDDocument
}

// Address is a postal address.
type Address struct {
	Line1, Line2, City, State string
	ZIPCode                   string // 5 digits, or 5 digits '-' 4 digits
}

// IDDocument describes an identity document (driver's license, passport).
type IDDocument struct {
	Type, Number, Issuer string
	Expiration           string // YYYY-MM-DD, a valid calendar date
}

// Attribute names: the keys of Identity.Attribute and of the canonical
// encoding, in encoding order.
const (
	AttrGivenName    = "given_name"
	AttrMiddleName   = "middle_name"
	AttrFamilyName   = "family_name"
	AttrBirthDate    = "birthdate"
	AttrSSN          = "ssn"
	AttrPhone        = "phone"
	AttrAddressLine1 = "address_line1"
	AttrAddressLine2 = "address_line2"
	AttrCity         = "city"
	AttrState        = "state"
	AttrZIPCode      = "zipcode"
	AttrIDType       = "id_type"
	AttrIDNumber     = "id_number"
	AttrIDIssuer     = "id_issuer"
	AttrIDExpiration = "id_expiration"
)

// Identity encoding limits.
const (
	// MaxIdentitySize is the largest encoded Identity ParseIdentity reads;
	// larger input is refused before decoding.
	MaxIdentitySize = 16 << 10
	// MaxAttributeLen is the longest attribute value, in bytes.
	MaxAttributeLen = 512
	// identityVersion is the "v" of the canonical encoding.
	identityVersion = 1
)

// AttributeNames returns the attribute names in canonical order (a new
// slice each call).
func AttributeNames() []string {
	return []string{
		AttrGivenName, AttrMiddleName, AttrFamilyName, AttrBirthDate, AttrSSN,
		AttrPhone, AttrAddressLine1, AttrAddressLine2, AttrCity, AttrState,
		AttrZIPCode, AttrIDType, AttrIDNumber, AttrIDIssuer, AttrIDExpiration,
	}
}

// Attribute returns the value of the attribute called name and true, or ""
// and false if name is not an attribute name. An empty field gives "" and
// true.
func (id *Identity) Attribute(name string) (string, bool) {
	if id == nil {
		return "", false
	}
	if p := id.field(name); p != nil {
		return *p, true
	}
	return "", false
}

func (id *Identity) field(name string) *string {
	switch name {
	case AttrGivenName:
		return &id.GivenName
	case AttrMiddleName:
		return &id.MiddleName
	case AttrFamilyName:
		return &id.FamilyName
	case AttrBirthDate:
		return &id.BirthDate
	case AttrSSN:
		return &id.SSN
	case AttrPhone:
		return &id.Phone
	case AttrAddressLine1:
		return &id.Address.Line1
	case AttrAddressLine2:
		return &id.Address.Line2
	case AttrCity:
		return &id.Address.City
	case AttrState:
		return &id.Address.State
	case AttrZIPCode:
		return &id.Address.ZIPCode
	case AttrIDType:
		return &id.Document.Type
	case AttrIDNumber:
		return &id.Document.Number
	case AttrIDIssuer:
		return &id.Document.Issuer
	case AttrIDExpiration:
		return &id.Document.Expiration
	}
	return nil
}

// Validate reports, wrapping ErrInvalidInput, the first field that is not
// in its documented format: every value valid UTF-8 without control
// characters and at most MaxAttributeLen bytes; dates YYYY-MM-DD; SSN 9
// digits; phone E.164; ZIP code 5 or 5+4 digits. Messages name the field,
// never its value.
func (id *Identity) Validate() error {
	if id == nil {
		return fmt.Errorf("%w: nil identity", ErrInvalidInput)
	}
	for _, name := range AttributeNames() {
		v := *id.field(name)
		if v == "" {
			continue
		}
		if len(v) > MaxAttributeLen || !utf8.ValidString(v) || hasControl(v) {
			return fmt.Errorf("%w: identity attribute %s is not printable text of at most %d bytes", ErrInvalidInput, name, MaxAttributeLen)
		}
		var ok bool
		switch name {
		case AttrBirthDate, AttrIDExpiration:
			ok = isDate(v)
		case AttrSSN:
			ok = len(v) == 9 && allDigits(v)
		case AttrPhone:
			ok = len(v) >= 2 && len(v) <= 16 && v[0] == '+' && v[1] != '0' && allDigits(v[1:])
		case AttrZIPCode:
			ok = (len(v) == 5 && allDigits(v)) ||
				(len(v) == 10 && allDigits(v[:5]) && v[5] == '-' && allDigits(v[6:]))
		default:
			ok = true
		}
		if !ok {
			return fmt.Errorf("%w: identity attribute %s is not in its format", ErrInvalidInput, name)
		}
	}
	return nil
}

func hasControl(s string) bool {
	for _, r := range s {
		if unicode.IsControl(r) {
			return true
		}
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

func isDate(s string) bool {
	if len(s) != 10 {
		return false
	}
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

// identityWire is the canonical encoding: a JSON object whose keys are the
// attribute names in canonical order, empty attributes omitted, preceded by
// the version "v":1, exactly as encoding/json writes it (no white space,
// HTML characters escaped).
type identityWire struct {
	V            int    `json:"v"`
	GivenName    string `json:"given_name,omitempty"`
	MiddleName   string `json:"middle_name,omitempty"`
	FamilyName   string `json:"family_name,omitempty"`
	BirthDate    string `json:"birthdate,omitempty"`
	SSN          string `json:"ssn,omitempty"`
	Phone        string `json:"phone,omitempty"`
	AddressLine1 string `json:"address_line1,omitempty"`
	AddressLine2 string `json:"address_line2,omitempty"`
	City         string `json:"city,omitempty"`
	State        string `json:"state,omitempty"`
	ZIPCode      string `json:"zipcode,omitempty"`
	IDType       string `json:"id_type,omitempty"`
	IDNumber     string `json:"id_number,omitempty"`
	IDIssuer     string `json:"id_issuer,omitempty"`
	IDExpiration string `json:"id_expiration,omitempty"`
}

func (id *Identity) wire() identityWire {
	return identityWire{
		V: identityVersion, GivenName: id.GivenName, MiddleName: id.MiddleName,
		FamilyName: id.FamilyName, BirthDate: id.BirthDate, SSN: id.SSN, Phone: id.Phone,
		AddressLine1: id.Address.Line1, AddressLine2: id.Address.Line2, City: id.Address.City,
		State: id.Address.State, ZIPCode: id.Address.ZIPCode, IDType: id.Document.Type,
		IDNumber: id.Document.Number, IDIssuer: id.Document.Issuer, IDExpiration: id.Document.Expiration,
	}
}

func (w *identityWire) identity() *Identity {
	return &Identity{
		GivenName: w.GivenName, MiddleName: w.MiddleName, FamilyName: w.FamilyName,
		BirthDate: w.BirthDate, SSN: w.SSN, Phone: w.Phone,
		Address:  Address{Line1: w.AddressLine1, Line2: w.AddressLine2, City: w.City, State: w.State, ZIPCode: w.ZIPCode},
		Document: IDDocument{Type: w.IDType, Number: w.IDNumber, Issuer: w.IDIssuer, Expiration: w.IDExpiration},
	}
}

// MarshalBinary validates id and returns its canonical encoding: one JSON
// object, {"v":1, then the non-empty attributes in AttributeNames order},
// as encoding/json writes it. Equal Identities give equal bytes.
func (id *Identity) MarshalBinary() ([]byte, error) {
	if err := id.Validate(); err != nil {
		return nil, err
	}
	w := id.wire()
	out, err := json.Marshal(&w)
	if err != nil {
		return nil, fmt.Errorf("vault: encoding identity: %w", err)
	}
	return out, nil
}

// ParseIdentity decodes a canonical Identity encoding strictly: input over
// MaxIdentitySize is refused before decoding, and anything MarshalBinary
// would not have written byte for byte (unknown or duplicate keys, other
// key order, white space, another version, an invalid attribute) is
// refused with an error wrapping ErrInvalidInput. So an encoding has one
// spelling: ParseIdentity(b) succeeds only if MarshalBinary gives back b.
func ParseIdentity(data []byte) (*Identity, error) {
	if len(data) > MaxIdentitySize {
		return nil, fmt.Errorf("%w: identity encoding longer than %d bytes", ErrInvalidInput, MaxIdentitySize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var w identityWire
	if err := dec.Decode(&w); err != nil {
		return nil, fmt.Errorf("%w: identity encoding is not valid", ErrInvalidInput)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%w: trailing data after identity encoding", ErrInvalidInput)
	}
	if w.V != identityVersion {
		return nil, fmt.Errorf("%w: identity encoding version %d, want %d", ErrInvalidInput, w.V, identityVersion)
	}
	id := w.identity()
	again, err := id.MarshalBinary()
	if err != nil {
		return nil, err
	}
	defer clear(again)
	if !bytes.Equal(again, data) {
		return nil, fmt.Errorf("%w: identity encoding is not canonical", ErrInvalidInput)
	}
	return id, nil
}
