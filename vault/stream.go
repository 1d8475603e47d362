package vault

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/piivault/piivault/envelope"
)

// MaxRecordSize is the largest plaintext Seal takes in one record
// (envelope.MaxRecordSize, 16 MiB): Seal and Open hold the whole record in
// memory, several times over while sealing. ID document images, selfies
// and anything else that may be larger, or that should not sit in memory
// whole, go through SealStream and OpenStream, which take any length in
// constant memory.
const MaxRecordSize = envelope.MaxRecordSize

// SealStream returns a writer that seals what is written to it, in chunks
// of envelope.DefaultStreamChunkSize (64 KiB), into w as an envelope stream
// (envelope/FORMAT.md, "Stream") under the current account key, bound to
// the user id and label like Seal's records. Memory use does not depend on
// the stream's length. The caller must Close the writer: a stream without
// its last chunk does not open. Close does not close w.
//
// The writer holds its own per-stream key: it keeps working after the
// Unlocked handle is closed, until it is closed itself.
func (u *Unlocked) SealStream(w io.Writer, label string) (io.WriteCloser, error) {
	if u == nil {
		return nil, errNilUnlocked
	}
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	if w == nil {
		return nil, fmt.Errorf("%w: nil writer", ErrInvalidInput)
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.rk == nil {
		return nil, ErrClosed
	}
	sw, err := u.rk.NewStreamWriter(w, envelope.Binding{UserID: u.userID, Label: label}, 0)
	if err != nil {
		return nil, classify(fmt.Errorf("vault: seal stream: %w", err))
	}
	return sw, nil
}

// OpenStream reads a stream sealed by SealStream for the same user id and
// label, under the current account key or an older one the account
// carries, and returns a reader of its plaintext. The stream's header is
// read and checked before OpenStream returns: another user, label or
// account key is refused then (ErrCorrupt wrapping
// envelope.ErrCommitment), before any plaintext; a stream of a key
// generation newer than the account's gives ErrRolledBack.
//
// The reader releases plaintext a chunk at a time, each only after its
// authentication tag verified. A stream that was altered, truncated or
// extended fails at the first bad chunk (ErrCorrupt wrapping
// envelope.ErrPayloadAuth), after the chunks before it were returned: only
// a read that ends in io.EOF proves the whole stream authentic. Write what
// you read to a temporary place and use it only after io.EOF (io.Copy
// returns a nil error exactly then).
//
// The reader holds its own per-stream key: like SealStream's writer, it
// keeps working after the Unlocked handle is closed.
func (u *Unlocked) OpenStream(r io.Reader, label string) (io.Reader, error) {
	if u == nil {
		return nil, errNilUnlocked
	}
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	if r == nil {
		return nil, fmt.Errorf("%w: nil reader", ErrInvalidInput)
	}
	var hdr [envelope.StreamHeaderSize]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("stream shorter than its header: %w", envelope.ErrMalformed)
		}
		return nil, classify(fmt.Errorf("vault: open stream: %w", err))
	}
	var sr *envelope.StreamReader
	err := u.withStreamKey(hdr[:], label, func(rk *envelope.RecordKey, b envelope.Binding) (err error) {
		sr, err = rk.NewStreamReader(io.MultiReader(bytes.NewReader(hdr[:]), r), b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return &streamReader{sr: sr}, nil
}

// OpenStreamBytes opens a whole stream sealed by SealStream, held in
// memory, for the same user id and label, under the current account key or
// an older one the account carries, with OpenStream's checks and errors.
// Unlike OpenStream's reader it is all or nothing: it returns the
// plaintext only when every chunk verified, and nil (with nothing of the
// plaintext left in memory it allocated) on any error. It needs memory for
// the whole plaintext, which is shorter than sealed; for a stream of
// unknown or unbounded size use OpenStream.
func (u *Unlocked) OpenStreamBytes(label string, sealed []byte) ([]byte, error) {
	if u == nil {
		return nil, errNilUnlocked
	}
	if err := checkLabel(label); err != nil {
		return nil, err
	}
	var pt []byte
	err := u.withStreamKey(sealed, label, func(rk *envelope.RecordKey, b envelope.Binding) (err error) {
		pt, err = rk.OpenStreamBytes(nil, sealed, b)
		return err
	})
	if err != nil {
		return nil, err
	}
	return pt, nil
}

// withStreamKey runs f, holding u.mu, with the key of the generation the
// stream header names (the current key or an older one the account
// carries) and the binding of label. Errors of f and of the header are
// classified; ErrClosed and keyForGeneration's are returned as they are.
func (u *Unlocked) withStreamKey(header []byte, label string, f func(*envelope.RecordKey, envelope.Binding) error) error {
	gen, err := envelope.StreamGeneration(header)
	if err != nil {
		return classify(fmt.Errorf("vault: open stream: %w", err))
	}
	u.mu.RLock()
	defer u.mu.RUnlock()
	if u.rk == nil {
		return ErrClosed
	}
	rk, err := u.keyForGeneration(gen, "stream")
	if err != nil {
		return err
	}
	if err := f(rk, envelope.Binding{UserID: u.userID, Label: label}); err != nil {
		return classify(fmt.Errorf("vault: open stream: %w", err))
	}
	return nil
}

// keyForGeneration is keyFor for a generation read from a stream header.
// The caller holds u.mu.
func (u *Unlocked) keyForGeneration(gen uint32, what string) (*envelope.RecordKey, error) {
	if gen == u.keyGen {
		return u.rk, nil
	}
	if gen > u.keyGen {
		return nil, fmt.Errorf("%w: %s of key generation %d, account key generation %d: %w", ErrRolledBack, what, gen, u.keyGen, envelope.ErrGeneration)
	}
	for _, o := range u.older {
		if o.gen == gen {
			return o.rk, nil
		}
	}
	return nil, fmt.Errorf("%w: %s of key generation %d, which the account no longer carries: %w", ErrCorrupt, what, gen, envelope.ErrGeneration)
}

// streamReader classifies the envelope's errors (ErrCorrupt) and keeps
// io.EOF as is.
type streamReader struct{ sr *envelope.StreamReader }

func (s *streamReader) Read(p []byte) (int, error) {
	n, err := s.sr.Read(p)
	if err != nil && err != io.EOF {
		err = classify(fmt.Errorf("vault: open stream: %w", err))
	}
	return n, err
}

// WriteTo lets io.Copy skip a copy.
func (s *streamReader) WriteTo(w io.Writer) (int64, error) {
	n, err := s.sr.WriteTo(w)
	if err != nil {
		err = classify(fmt.Errorf("vault: open stream: %w", err))
	}
	return n, err
}
