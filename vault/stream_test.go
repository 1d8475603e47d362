package vault

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/kdf"
)

func streamTestAccount(t *testing.T) (*Vault, []byte, *Unlocked) {
	t.Helper()
	v, _ := newTestVault(t, testPolicy(t))
	account, _, err := v.Enroll(context.Background(), "user-900-00-0042", []byte("stream password"))
	if err != nil {
		t.Fatal(err)
	}
	return v, account, mustUnlock(t, v, "user-900-00-0042", account, []byte("stream password"))
}

func sealVaultStream(t *testing.T, u *Unlocked, label string, pt []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	w, err := u.SealStream(&out, label)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(pt)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestStreamTakesWhatSealRefuses: a 20 MiB "ID document image" is over the
// one-shot limit (Seal refuses it: envelope.ErrTooLarge) and goes through
// SealStream and OpenStream.
func TestStreamTakesWhatSealRefuses(t *testing.T) {
	_, _, u := streamTestAccount(t)
	img := make([]byte, 20<<20)
	for i := range img {
		img[i] = byte(i * 31)
	}
	if _, err := u.Seal("id-document", img); !errors.Is(err, envelope.ErrTooLarge) || !errors.Is(err, ErrInvalidInput) || errors.Is(err, ErrCorrupt) {
		t.Fatalf("Seal of %d bytes: %v", len(img), err)
	}
	s := sealVaultStream(t, u, "id-document", img)
	r, err := u.OpenStream(bytes.NewReader(s), "id-document")
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	if _, err := io.Copy(&got, r); err != nil || !bytes.Equal(got.Bytes(), img) {
		t.Fatalf("open: %v", err)
	}
}

// TestStreamIsBoundToUserLabelAndAccountKey: a stream presented under
// another label, or to another user's handle, is refused before any
// plaintext (ErrCorrupt wrapping envelope.ErrCommitment); a damaged stream
// fails with ErrCorrupt wrapping envelope.ErrPayloadAuth.
func TestStreamIsBoundToUserLabelAndAccountKey(t *testing.T) {
	v, _, u := streamTestAccount(t)
	s := sealVaultStream(t, u, "selfie", bytes.Repeat([]byte("face"), 50_000))
	if _, err := u.OpenStream(bytes.NewReader(s), "id-document"); !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrCommitment) {
		t.Fatalf("other label: %v", err)
	}
	other, _, err := v.Enroll(context.Background(), "user-900-00-0043", []byte("other password"))
	if err != nil {
		t.Fatal(err)
	}
	uo := mustUnlock(t, v, "user-900-00-0043", other, []byte("other password"))
	if _, err := uo.OpenStream(bytes.NewReader(s), "selfie"); !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrCommitment) {
		t.Fatalf("other user: %v", err)
	}
	bad := bytes.Clone(s)
	bad[len(bad)-1] ^= 1
	r, err := u.OpenStream(bytes.NewReader(bad), "selfie")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrPayloadAuth) {
		t.Fatalf("damaged: %v", err)
	}
	for name, in := range map[string][]byte{"empty": nil, "a record": mustSeal(t, u, "selfie", []byte("x"))} {
		if _, err := u.OpenStream(bytes.NewReader(in), "selfie"); !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrMalformed) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := u.SealStream(io.Discard, ""); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("empty label: %v", err)
	}
	u.Close()
	if _, err := u.SealStream(io.Discard, "selfie"); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	if _, err := u.OpenStream(bytes.NewReader(s), "selfie"); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	var nilU *Unlocked
	if _, err := nilU.OpenStream(bytes.NewReader(s), "selfie"); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("nil handle: %v", err)
	}
}

func mustSeal(t *testing.T, u *Unlocked, label string, pt []byte) []byte {
	t.Helper()
	rec, err := u.Seal(label, pt)
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// TestStreamSealedBeforeARotationOpensAfterIt: a stream names its key
// generation; after RotateAccountKey it opens with the older key the
// account carries, and a stream sealed after the rotation is refused by a
// handle from before it (ErrRolledBack).
func TestStreamSealedBeforeARotationOpensAfterIt(t *testing.T) {
	v, account, u := streamTestAccount(t)
	pt := bytes.Repeat([]byte{0x17}, 100_000)
	before := sealVaultStream(t, u, "id-document", pt)
	_, _, u2, err := v.RotateAccountKey(context.Background(), "user-900-00-0042", account, []byte("stream password"))
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string][]byte{"before": before, "after": sealVaultStream(t, u2, "id-document", pt)} {
		r, err := u2.OpenStream(bytes.NewReader(s), "id-document")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := io.ReadAll(r); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	after := sealVaultStream(t, u2, "id-document", pt)
	if g, _ := envelope.StreamGeneration(after); g != u2.KeyGeneration() || g == u.KeyGeneration() {
		t.Fatalf("stream generation %d, key generations %d -> %d", g, u.KeyGeneration(), u2.KeyGeneration())
	}
	if _, err := u.OpenStream(bytes.NewReader(after), "id-document"); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("new stream, old handle: %v", err)
	}
}

// ExampleUnlocked_SealStream seals an ID document image of any size in
// constant memory (Seal takes at most MaxRecordSize, 16 MiB) and reads it
// back; only an io.Copy that returns nil has checked every chunk.
func ExampleUnlocked_SealStream() {
	// Tiny KDF parameters so the example runs fast; deployments use
	// Config{} or FIPSConfig().
	p := kdf.Params{Algorithm: kdf.PBKDF2SHA256, Iterations: 1000}
	v, _ := New(Config{Policy: kdf.Policy{New: p, FloorPBKDF2: p, Caps: kdf.DefaultCaps()}})
	ctx := context.Background()
	account, _, _ := v.Enroll(ctx, "user-900-00-0001", []byte("correct horse battery staple"))
	u, _, _ := v.Unlock(ctx, "user-900-00-0001", account, []byte("correct horse battery staple"))
	defer u.Close()

	image := bytes.Repeat([]byte{0xff, 0xd8}, 10<<20) // 20 MiB, over MaxRecordSize
	var stored bytes.Buffer
	w, _ := u.SealStream(&stored, "id-document")
	io.Copy(w, bytes.NewReader(image))
	if err := w.Close(); err != nil {
		panic(err)
	}

	r, err := u.OpenStream(&stored, "id-document")
	if err != nil {
		panic(err)
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, r); err != nil {
		panic(err) // discard out: the stream is not authentic
	}
	fmt.Println(len(image) > MaxRecordSize, bytes.Equal(out.Bytes(), image))
	// Output: true true
}

// TestOpenStreamBytesIsAllOrNothingWithOpenStreamsChecks: the in-memory
// opener gives back exactly what was sealed, across a rotation, and
// refuses what OpenStream refuses with the same errors; a damaged last
// chunk gives no plaintext at all (OpenStream's reader has released the
// verified chunks before it by then).
func TestOpenStreamBytesIsAllOrNothingWithOpenStreamsChecks(t *testing.T) {
	v, account, u := streamTestAccount(t)
	pt := bytes.Repeat([]byte("page"), 50_000) // 200 KB: four chunks
	s := sealVaultStream(t, u, "id-document", pt)
	if got, err := u.OpenStreamBytes("id-document", s); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %d bytes, %v", len(got), err)
	}
	bad := bytes.Clone(s)
	bad[len(bad)-1] ^= 1
	if got, err := u.OpenStreamBytes("id-document", bad); got != nil || !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrPayloadAuth) {
		t.Fatalf("damaged last chunk: %d bytes, %v", len(got), err)
	}
	if _, err := u.OpenStreamBytes("selfie", s); !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrCommitment) {
		t.Fatalf("other label: %v", err)
	}
	if _, err := u.OpenStreamBytes("id-document", s[:envelope.StreamHeaderSize-1]); !errors.Is(err, ErrCorrupt) || !errors.Is(err, envelope.ErrMalformed) {
		t.Fatalf("shorter than a header: %v", err)
	}
	_, _, u2, err := v.RotateAccountKey(context.Background(), "user-900-00-0042", account, []byte("stream password"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := u2.OpenStreamBytes("id-document", s); err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("sealed before a rotation: %v", err)
	}
	if _, err := u.OpenStreamBytes("id-document", sealVaultStream(t, u2, "id-document", pt)); !errors.Is(err, ErrRolledBack) {
		t.Fatalf("new stream, old handle: %v", err)
	}
	u.Close()
	if _, err := u.OpenStreamBytes("id-document", s); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
	var nilU *Unlocked
	if _, err := nilU.OpenStreamBytes("id-document", s); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("nil handle: %v", err)
	}
	if _, err := u2.OpenStreamBytes("", s); !errors.Is(err, ErrInvalidInput) {
		t.Fatalf("empty label: %v", err)
	}
}
