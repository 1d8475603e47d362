package envelope_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

// ExampleWrapKey wraps a fresh account key for a password and a printed
// recovery key, stores the header's bytes, and unwraps the key again with
// the recovery key.
func ExampleWrapKey() {
	ctx := context.Background()
	// Small parameters so the example runs fast; use kdf.DefaultPolicy().
	small := kdf.Params{Algorithm: kdf.Argon2id, MemoryKiB: 64, Passes: 1, Threads: 1}
	d, err := kdf.New(kdf.Config{Policy: kdf.Policy{New: small, FloorArgon2id: small, Caps: kdf.DefaultCaps()}})
	if err != nil {
		log.Fatal(err)
	}
	b := envelope.Binding{UserID: "user-900-00-0001", Label: "account"}

	key, _ := envelope.NewKey(nil)
	recoveryKey := make([]byte, 20) // shown to the user once, printed
	rand.Read(recoveryKey)

	pw, err := envelope.NewPasswordRecipient(d, []byte("correct horse battery staple"), small, nil)
	if err != nil {
		log.Fatal(err)
	}
	rr, _ := envelope.NewRecoveryRecipient(recoveryKey, nil)
	h, err := envelope.WrapKey(ctx, key, b, pw, rr)
	if err != nil {
		log.Fatal(err)
	}
	stored, _ := h.MarshalBinary()

	parsed, err := envelope.ParseHeader(stored)
	if err != nil {
		log.Fatal(err)
	}
	id, _ := envelope.NewRecoveryIdentity(recoveryKey)
	got, err := envelope.UnwrapKey(ctx, parsed, b, id)
	fmt.Println(err == nil && string(got) == string(key))

	wrong, _ := envelope.NewPasswordIdentity(d, []byte("Tr0ub4dor&3"))
	_, err = envelope.UnwrapKey(ctx, parsed, b, wrong)
	fmt.Println(errors.Is(err, envelope.ErrNoMatch))
	// Output:
	// true
	// true
}

// ExampleRecordKey seals a record bound to a user and a label; the same
// record presented under another label does not open.
func ExampleRecordKey() {
	key, _ := envelope.NewKey(nil)
	rk, err := envelope.NewRecordKey(key, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rk.Destroy()
	ssn := envelope.Binding{UserID: "user-900-00-0001", Label: "ssn"}

	record, err := rk.Seal(nil, ssn, []byte("900-12-3456"))
	if err != nil {
		log.Fatal(err)
	}
	pt, err := rk.Open(nil, ssn, record)
	fmt.Println(string(pt), err)

	_, err = rk.Open(nil, envelope.Binding{UserID: "user-900-00-0001", Label: "phone"}, record)
	fmt.Println(err)
	// Output:
	// 900-12-3456 <nil>
	// envelope: record commitment does not match this key and binding: envelope: key commitment check failed
}
