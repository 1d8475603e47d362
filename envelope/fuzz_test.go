package envelope

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func addGoldenSeeds(f *testing.F, header, record bool) {
	for _, outcome := range vectorOutcomes {
		for _, v := range loadVectorsF(f, outcome) {
			h, _ := hexDecode(v.Header)
			r, _ := hexDecode(v.Record)
			switch {
			case header && record:
				f.Add(append(h, r...))
			case header:
				f.Add(h)
			case record:
				f.Add(r)
			}
		}
	}
}

// FuzzParseHeader: ParseHeader never panics, and whatever it accepts
// marshals back to the same bytes (one spelling per header).
func FuzzParseHeader(f *testing.F) {
	addGoldenSeeds(f, true, false)
	f.Add([]byte("PVEH\x01\x01\x01\x01x\x00\x00\x01\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err != nil {
			if h != nil {
				t.Fatal("header returned with an error")
			}
			return
		}
		out, err := h.MarshalBinary()
		if err != nil {
			t.Fatalf("parsed header does not marshal: %v", err)
		}
		if !bytes.Equal(out, data) {
			t.Fatalf("parse then marshal changed the bytes:\n%x\n%x", data, out)
		}
	})
}

// FuzzOpenRecord: opening random bytes as a record, under a fixed key, never
// panics and never returns plaintext with an error or without one unless
// the record is genuine (the fuzzer cannot forge a tag).
func FuzzOpenRecord(f *testing.F) {
	addGoldenSeeds(f, false, true)
	key := bytes.Repeat([]byte{0x42}, KeySize)
	k, err := NewRecordKey(key, newDetReader("fuzz"))
	if err != nil {
		f.Fatal(err)
	}
	genuine, _ := k.Seal(nil, bindPII, []byte("genuine"))
	f.Add(genuine)
	f.Fuzz(func(t *testing.T, data []byte) {
		pt, err := k.Open(nil, bindPII, data)
		if err != nil {
			if pt != nil {
				t.Fatal("plaintext returned with an error")
			}
			return
		}
		if !bytes.Equal(data, genuine) {
			t.Fatalf("a record the key never sealed opened: %x", data)
		}
		// Single-shot Open of random bytes must fail without panicking.
		if _, err := Open(context.Background(), bindPII, data); err == nil {
			t.Fatal("single-shot Open without identities succeeded")
		}
	})
}

// FuzzHeaderRoundTrip builds headers from fuzzed stanzas: WrapKey either
// refuses them (limits, character set) or produces bytes that parse back to
// the same stanzas, marshal to the same bytes and unwrap to the same key.
func FuzzHeaderRoundTrip(f *testing.F) {
	f.Add("x-test", []byte{}, []byte{1}, uint8(1))
	f.Add("aead", []byte("kms://k"), bytes.Repeat([]byte{7}, 300), uint8(3))
	f.Add("Bad Type", []byte{}, []byte{}, uint8(17))
	key := bytes.Repeat([]byte{0x11}, KeySize)
	rid, _ := NewRecoveryIdentity(bytes.Repeat([]byte{5}, 16))
	rr, _ := NewRecoveryRecipient(bytes.Repeat([]byte{5}, 16), newDetReader("fuzz-rt"))
	f.Fuzz(func(t *testing.T, typ string, keyID, body []byte, n uint8) {
		var extra []*Stanza
		for range int(n % 20) {
			extra = append(extra, &Stanza{Type: typ, KeyID: keyID, Body: body})
		}
		h, err := WrapKey(context.Background(), key, bindJane, rr, staticRecipient(extra))
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		enc, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		p, err := ParseHeader(enc)
		if err != nil {
			t.Fatalf("WrapKey wrote a header ParseHeader refuses: %v", err)
		}
		if len(p.Stanzas) != len(h.Stanzas) {
			t.Fatal("stanza count changed")
		}
		for i := range p.Stanzas {
			a, b := p.Stanzas[i], h.Stanzas[i]
			if a.Type != b.Type || !bytes.Equal(a.KeyID, b.KeyID) || !bytes.Equal(a.Body, b.Body) {
				t.Fatalf("stanza %d changed", i)
			}
		}
		enc2, _ := p.MarshalBinary()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("marshal of the parsed header differs")
		}
		got, err := UnwrapKey(context.Background(), p, bindJane, rid)
		if err != nil || !bytes.Equal(got, key) {
			t.Fatalf("unwrap after round trip: %v", err)
		}
	})
}

type staticRecipient []*Stanza

func (s staticRecipient) Wrap(context.Context, []byte, Binding) ([]*Stanza, error) { return s, nil }
