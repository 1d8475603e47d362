package logingov

// Login.gov personal keys: 80 random bits as 16 Crockford base32 symbols,
// shown as ABCD-EFGH-JKMN-PQRS; the scrypt secret is the normalized form
// "ABCD EFGH JKMN PQRS" (19 bytes).
const (
	// PersonalKeySymbols is the number of symbols in a Login.gov personal
	// key.
	PersonalKeySymbols = 16
	// maxPersonalKeyInput bounds what NormalizePersonalKey reads.
	maxPersonalKeyInput = 1024
)

// crockford maps each byte, after ASCII upper-casing, to its Crockford
// base32 symbol: the 32 symbols to themselves, I and L to 1, O to 0; 0 for
// every other byte (U, '_', and anything Ruby's \w would keep but the
// alphabet refuses).
var crockford = func() (t [256]byte) {
	for _, c := range []byte("0123456789ABCDEFGHJKMNPQRSTVWXYZ") {
		t[c] = c
		if 'A' <= c && c <= 'Z' {
			t[c+'a'-'A'] = c
		}
	}
	for _, c := range []byte("Ii") {
		t[c] = '1'
	}
	for _, c := range []byte("Ll") {
		t[c] = '1'
	}
	for _, c := range []byte("Oo") {
		t[c] = '0'
	}
	return t
}()

// isWord reports whether c is in Ruby's ASCII-only \w: A-Z a-z 0-9 _.
func isWord(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_'
}

// NormalizePersonalKey turns a personal key as a user typed it into the
// exact bytes Login.gov used as the scrypt secret, reproducing
// PersonalKeyGenerator#normalize: every byte outside ASCII A-Z a-z 0-9 _
// is deleted (spaces, hyphens, punctuation, all non-ASCII text); exactly 16
// symbols must remain; each is upper-cased and mapped through Crockford's
// alphabet (I and L read as 1, O as 0); U and _ are refused; the result is
// four groups of four joined by single spaces.
//
// Input longer than 1024 bytes, a wrong number of symbols or a symbol
// outside the alphabet give ErrInvalidPersonalKey (where Login.gov would
// substitute a fixed string that then fails to decrypt). The work depends
// on the input's length and on which bytes are separators, not on the
// symbols' values beyond a table lookup.
func NormalizePersonalKey(typed string) ([]byte, error) {
	if len(typed) > maxPersonalKeyInput {
		return nil, errf(ErrInvalidPersonalKey, "longer than %d bytes", maxPersonalKeyInput)
	}
	out := make([]byte, 0, PersonalKeySymbols+PersonalKeySymbols/4-1)
	n, bad := 0, 0
	for i := 0; i < len(typed); i++ {
		c := typed[i]
		if !isWord(c) {
			continue
		}
		if n == PersonalKeySymbols {
			n++
			break
		}
		if n > 0 && n%4 == 0 {
			out = append(out, ' ')
		}
		m := crockford[c]
		if m == 0 {
			bad = 1
		}
		out = append(out, m)
		n++
	}
	if n != PersonalKeySymbols || bad != 0 {
		clear(out)
		return nil, errf(ErrInvalidPersonalKey, "want %d Crockford base32 symbols", PersonalKeySymbols)
	}
	return out, nil
}
