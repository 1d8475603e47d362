package logingov

import (
	"errors"
	"fmt"
)

// Errors a caller can tell apart with errors.Is. Every error this package
// returns wraps exactly one of the kinds below, and the malformed kinds
// (ErrJSON, ErrBase64, ErrBlob, ErrTooLarge) also wrap ErrMalformed.
// Messages name the layer and the field, never a secret or a PII value.
// Context cancellation is reported as the context's own error, wrapped.
var (
	// ErrMalformed: bytes that are not in any shape Login.gov writes. It
	// is wrapped by the four more precise kinds below.
	ErrMalformed = errors.New("logingov: malformed value")
	// ErrJSON: a layer that must be JSON (the stored value, the KMS chunk
	// array, the AES envelope, the plaintext) does not parse, or lacks a
	// field of the right type. Also wraps ErrMalformed.
	ErrJSON error = &kindError{"logingov: malformed JSON", ErrMalformed}
	// ErrBase64: a field that must be strict standard base64 with padding
	// (RFC 4648 section 4, no line breaks) is not. Also wraps ErrMalformed.
	ErrBase64 error = &kindError{"logingov: malformed base64", ErrMalformed}
	// ErrBlob: a binary layer has the wrong shape: an unknown KMS prefix,
	// an empty chunk list, an IV that is not 12 bytes, a tag that is not
	// 16 bytes, a local-mode payload without its fingerprint. Also wraps
	// ErrMalformed.
	ErrBlob error = &kindError{"logingov: malformed blob", ErrMalformed}
	// ErrTooLarge: an input over this package's size limits (MaxStoredSize,
	// MaxChunks...), refused before it is decoded. Also wraps ErrMalformed.
	ErrTooLarge error = &kindError{"logingov: value too large", ErrMalformed}

	// ErrParams: the scrypt cost string is not lowercase hex "N$r$p$", or
	// asks for more than the caps (MaxScryptN, MaxScryptMemory,
	// MaxScryptRP). Refused before any memory is taken for scrypt.
	ErrParams = errors.New("logingov: scrypt cost refused")
	// ErrUnsupported: a value in a format this package recognises but does
	// not open: the 2016-2018 "UAK" values, the June 2018 bare-base64
	// values, v1 values with a 20-character 2018 salt, the never-enabled
	// multi-region {"regions":...} KMS blob, and the never-merged
	// MessagePack "v2" draft. Login.gov itself cannot open the first
	// three any more. Also returned, before any KMS call, for every value
	// when the process runs under GODEBUG=fips140=only: the key is scrypt,
	// which is not FIPS 140-3 approved.
	ErrUnsupported = errors.New("logingov: unsupported legacy format")
	// ErrNoKey: the value needs a key this Reader was not given (a KMS
	// for KMSc/KMSx values, the local-mode pepper for LOCc and unprefixed
	// values).
	ErrNoKey = errors.New("logingov: no key configured for this layer")
	// ErrKMS: the KMS (or the local-mode key) refused to unwrap the KMS
	// layer: wrong key, wrong user uuid in the encryption context, or a
	// tampered blob.
	ErrKMS = errors.New("logingov: KMS layer refused")
	// ErrAuth: the AES-256-GCM tag did not verify: wrong password, wrong
	// personal key, or a tampered value (they cannot be told apart).
	ErrAuth = errors.New("logingov: wrong secret or tampered value")
	// ErrNoPII: the copy opened and holds the literal JSON null (recovery
	// copies written during a 2021 bug): there is no PII in this copy.
	ErrNoPII = errors.New("logingov: no PII in this copy")
	// ErrInvalidPersonalKey: the personal key typed is not 16 Crockford
	// base32 symbols after normalization. No KMS call and no scrypt run
	// are made for it.
	ErrInvalidPersonalKey = errors.New("logingov: invalid personal key")
	// ErrInvalidInput: a caller error (empty uuid, empty password, nil
	// vault...).
	ErrInvalidInput = errors.New("logingov: invalid input")
)

// kindError is an error kind that is also a parent kind.
type kindError struct {
	msg    string
	parent error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.parent }

func errf(kind error, format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{kind}, args...)...)
}
