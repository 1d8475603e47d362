package envelope

import (
	"context"
	"fmt"
)

// Seal is the single-shot form: it draws a fresh key, wraps it for
// recipients under b (WrapKey), seals plaintext under it as one record
// bound to b (RecordKey), and returns header || record. Most callers that
// store many records under one key want WrapKey and RecordKey instead.
func Seal(ctx context.Context, b Binding, plaintext []byte, recipients ...Recipient) ([]byte, error) {
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxRecordSize {
		return nil, fmt.Errorf("envelope: plaintext of %d bytes, limit %d: %w", len(plaintext), MaxRecordSize, ErrTooLarge)
	}
	key, err := NewKey(nil)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	h, err := WrapKey(ctx, key, b, recipients...)
	if err != nil {
		return nil, err
	}
	out, err := h.MarshalBinary()
	if err != nil {
		return nil, err
	}
	rk, err := NewRecordKey(key, nil)
	if err != nil {
		return nil, err
	}
	defer rk.Destroy()
	return rk.Seal(out, b, plaintext)
}

// Open opens what Seal returned: it parses the header (ParseHeader's rules),
// unwraps the key with the first identity that matches (UnwrapKey's rules
// and errors), and opens the record that follows (RecordKey.Open's rules and
// errors). It returns the plaintext or an error, never both.
func Open(ctx context.Context, b Binding, envelope []byte, identities ...Identity) ([]byte, error) {
	if len(envelope) > MaxHeaderSize+MaxRecordSize+RecordOverheadV1 {
		return nil, fmt.Errorf("envelope: %d bytes, over the limit: %w", len(envelope), ErrTooLarge)
	}
	if err := checkBinding(b); err != nil {
		return nil, err
	}
	h, n, err := parseHeaderPrefix(envelope)
	if err != nil {
		return nil, err
	}
	if err := checkRecord(envelope[n:]); err != nil {
		return nil, err
	}
	key, err := UnwrapKey(ctx, h, b, identities...)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	rk, err := NewRecordKey(key, nil)
	if err != nil {
		return nil, err
	}
	defer rk.Destroy()
	return rk.Open(nil, b, envelope[n:])
}
