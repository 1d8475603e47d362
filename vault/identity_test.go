package vault

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestIdentityEncodingIsCanonicalAndRoundTrips(t *testing.T) {
	enc, err := janeSample.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"v":1,"given_name":"Jane","middle_name":"Quincy","family_name":"Sample",` +
		`"birthdate":"1980-02-29","ssn":"900123456","phone":"+12025550143",` +
		`"address_line1":"1600 Example Avenue NW","address_line2":"Apt 5B","city":"Testville",` +
		`"state":"DC","zipcode":"20500-0001","id_type":"drivers_license","id_number":"D1234-5678-ZZ",` +
		`"id_issuer":"DC","id_expiration":"2031-07-04"}`
	if string(enc) != want {
		t.Fatalf("encoding\n%s\nwant\n%s", enc, want)
	}
	back, err := ParseIdentity(enc)
	if err != nil || *back != *janeSample {
		t.Fatalf("ParseIdentity = %+v, %v", back, err)
	}
	empty, err := (&Identity{}).MarshalBinary()
	if err != nil || string(empty) != `{"v":1}` {
		t.Fatalf("empty identity encodes as %s, %v", empty, err)
	}
}

func TestAttributeNamesMatchEncodingOrderAndAccessors(t *testing.T) {
	names := AttributeNames()
	if len(names) != 15 {
		t.Fatalf("%d attribute names", len(names))
	}
	// The canonical encoding lists keys in AttributeNames order.
	enc, _ := janeSample.MarshalBinary()
	dec := json.NewDecoder(bytes.NewReader(enc))
	var keys []string
	dec.Token()
	for dec.More() {
		k, _ := dec.Token()
		keys = append(keys, k.(string))
		dec.Token()
	}
	if !slices.Equal(keys[1:], names) {
		t.Fatalf("encoding keys %v, want v then %v", keys, names)
	}
	// Every name reads its own field: set each field to a distinct value.
	var id Identity
	for i, n := range names {
		*id.field(n) = strings.Repeat("x", i+1)
	}
	for i, n := range names {
		got, ok := id.Attribute(n)
		if !ok || got != strings.Repeat("x", i+1) {
			t.Fatalf("Attribute(%q) = %q, %v", n, got, ok)
		}
	}
	// ... and every exported string field is reachable by exactly one name.
	if n := countStringFields(reflect.TypeOf(id)); n != len(names) {
		t.Fatalf("Identity has %d string fields, %d attribute names", n, len(names))
	}
	if _, ok := id.Attribute("email"); ok {
		t.Fatal("unknown attribute reported present")
	}
	names[0] = "changed"
	if AttributeNames()[0] != AttrGivenName {
		t.Fatal("AttributeNames shares its slice")
	}
}

func countStringFields(t reflect.Type) int {
	n := 0
	for i := 0; i < t.NumField(); i++ {
		switch f := t.Field(i); f.Type.Kind() {
		case reflect.String:
			n++
		case reflect.Struct:
			n += countStringFields(f.Type)
		}
	}
	return n
}

func TestIdentityValidateRejectsBadFormats(t *testing.T) {
	for name, mutate := range map[string]func(*Identity){
		"dashed SSN":         func(id *Identity) { id.SSN = "900-12-3456" },
		"short SSN":          func(id *Identity) { id.SSN = "90012345" },
		"no such date":       func(id *Identity) { id.BirthDate = "1981-02-29" },
		"US date order":      func(id *Identity) { id.BirthDate = "02/29/1980" },
		"bad expiration":     func(id *Identity) { id.Document.Expiration = "2031-13-01" },
		"phone without plus": func(id *Identity) { id.Phone = "12025550143" },
		"phone too long":     func(id *Identity) { id.Phone = "+1234567890123456" },
		"phone leading zero": func(id *Identity) { id.Phone = "+02025550143" },
		"zip letters":        func(id *Identity) { id.Address.ZIPCode = "2050O" },
		"zip 9 no dash":      func(id *Identity) { id.Address.ZIPCode = "205000001" },
		"control char":       func(id *Identity) { id.GivenName = "Ja\x00ne" },
		"invalid UTF-8":      func(id *Identity) { id.FamilyName = "Sa\xffmple" },
		"too long":           func(id *Identity) { id.Address.Line1 = strings.Repeat("a", MaxAttributeLen+1) },
	} {
		id := *janeSample
		mutate(&id)
		err := id.Validate()
		if !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: Validate = %v", name, err)
			continue
		}
		if _, err := id.MarshalBinary(); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: MarshalBinary = %v", name, err)
		}
		// Messages name the field, never the value.
		if strings.Contains(err.Error(), "900") || strings.Contains(err.Error(), "Ja") {
			t.Errorf("%s: error quotes the value: %v", name, err)
		}
	}
	if err := janeSample.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestParseIdentityRejectsNonCanonical(t *testing.T) {
	canon, _ := janeSample.MarshalBinary()
	for name, in := range map[string]string{
		"empty":           ``,
		"not an object":   `[]`,
		"no version":      `{"ssn":"900123456"}`,
		"version 2":       `{"v":2}`,
		"float version":   `{"v":1.0}`,
		"white space":     `{"v": 1}`,
		"key order":       `{"v":1,"ssn":"900123456","given_name":"Jane"}`,
		"version last":    `{"given_name":"Jane","v":1}`,
		"duplicate key":   `{"v":1,"ssn":"900123456","ssn":"900123457"}`,
		"unknown key":     `{"v":1,"email":"jane@example.com"}`,
		"empty value":     `{"v":1,"ssn":""}`,
		"escaped letter":  `{"v":1,"given_name":"J\u0061ne"}`,
		"trailing data":   `{"v":1}{}`,
		"trailing space":  `{"v":1} `,
		"invalid value":   `{"v":1,"ssn":"12"}`,
		"null":            `null`,
		"wrong type":      `{"v":1,"ssn":900123456}`,
		"canonical + nul": string(canon) + "\x00",
	} {
		if _, err := ParseIdentity([]byte(in)); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("%s: ParseIdentity(%s) = %v, want ErrInvalidInput", name, in, err)
		}
	}
	huge := append([]byte(`{"v":1,"given_name":"`), bytes.Repeat([]byte("a"), MaxIdentitySize)...)
	if _, err := ParseIdentity(huge); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("oversized input: %v", err)
	}
}

func FuzzParseIdentity(f *testing.F) {
	canon, _ := janeSample.MarshalBinary()
	f.Add(canon)
	f.Add([]byte(`{"v":1}`))
	f.Add([]byte(`{"v":1,"ssn":"900123456","ssn":"900123457"}`))
	f.Add([]byte(`{"v":1,"given_name":"J\u0061ne"}`))
	f.Add([]byte(`{"v":1,"city":"S\u00e3o Paulo"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		id, err := ParseIdentity(data)
		if err != nil {
			if !errors.Is(err, ErrInvalidInput) {
				t.Fatalf("error %v does not wrap ErrInvalidInput", err)
			}
			return
		}
		// One spelling: what parses is exactly what MarshalBinary writes.
		again, err := id.MarshalBinary()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("parsed %q but re-encodes as %q (%v)", data, again, err)
		}
	})
}
