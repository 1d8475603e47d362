package vault

import (
	"context"
	"errors"

	"github.com/piivault/piivault/envelope"
)

// TEMPORARY (remove when envelope implements its contract): the envelope
// stubs do not yet have Wrap/Unwrap methods, so the conversions are made at
// run time.

var errNotImplemented = errors.New("vault: envelope type does not implement the contract yet")

type brokenIdentity struct{}

func (brokenIdentity) Unwrap(context.Context, []*envelope.Stanza, envelope.Binding) ([]byte, error) {
	return nil, errNotImplemented
}

type brokenRecipient struct{}

func (brokenRecipient) Wrap(context.Context, []byte, envelope.Binding) ([]*envelope.Stanza, error) {
	return nil, errNotImplemented
}

func asIdentity(x any) envelope.Identity {
	if id, ok := x.(envelope.Identity); ok {
		return id
	}
	return brokenIdentity{}
}

func asRecipient(x any) envelope.Recipient {
	if r, ok := x.(envelope.Recipient); ok {
		return r
	}
	return brokenRecipient{}
}
