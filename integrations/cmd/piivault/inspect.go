package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/piivault/piivault/envelope"
	"github.com/piivault/piivault/escrow"
	"github.com/piivault/piivault/kdf"
)

// maxInspectInput bounds what inspect reads: a header, a record (up to
// envelope.MaxRecordSize of plaintext) or a stream's first bytes, possibly
// in hex or base64.
const maxInspectInput = 3 * (envelope.MaxRecordSize + 4096)

// Inspection is what inspect prints (and, with -json, its JSON form).
type Inspection struct {
	Kind          string `json:"kind"` // account, record, stream, shred-layered
	Encoding      string `json:"encoding"`
	Size          int    `json:"size"`
	FormatVersion int    `json:"format_version,omitempty"`
	Suite         int    `json:"suite,omitempty"`
	// Account headers.
	Generation          *uint64      `json:"generation,omitempty"`
	KeyGeneration       *uint32      `json:"key_generation,omitempty"`
	OlderKeyGenerations []uint32     `json:"older_key_generations,omitempty"`
	Stanzas             []StanzaInfo `json:"stanzas,omitempty"`
	Escrow              []string     `json:"escrow_fingerprints,omitempty"`
	Policy              string       `json:"policy,omitempty"`
	// Records and streams.
	RecordKeyGeneration *uint32 `json:"record_key_generation,omitempty"`
	PlaintextSize       *int    `json:"plaintext_size,omitempty"`
	ChunkSize           int     `json:"chunk_size,omitempty"`
	Note                string  `json:"note,omitempty"`
}

// StanzaInfo describes one stanza without its body.
type StanzaInfo struct {
	Type     string `json:"type"`
	Role     string `json:"role"` // password, recovery, escrow
	KeyID    string `json:"key_id,omitempty"`
	BodySize int    `json:"body_size"`
	// Password stanzas.
	KDF           string `json:"kdf,omitempty"`
	MeetsPolicy   *bool  `json:"meets_policy,omitempty"`
	PolicyProblem string `json:"policy_problem,omitempty"`
	NeedsUpgrade  *bool  `json:"needs_upgrade,omitempty"`
}

func runInspect(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "inspect", "[-json] [-policy default|fips] [FILE|-]",
		"Inspect describes an account record (envelope header), a sealed record, a stream\n"+
			"header or a shred-layered account, read from FILE or stdin, raw or in hex\n"+
			"(PostgreSQL's \\x form too) or base64. It prints what needs no key: format\n"+
			"version, generations, stanza types, escrow key fingerprints, KDF parameters and\n"+
			"whether they meet the policy, sizes. It never prints a secret, salt or wrapped key.")
	asJSON := fs.Bool("json", false, "print JSON")
	policy := fs.String("policy", "default", "KDF policy to check parameters against: default or fips")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 1 {
		return usagef("at most one file")
	}
	var pol kdf.Policy
	switch *policy {
	case "default":
		pol = kdf.DefaultPolicy()
	case "fips":
		pol = kdf.FIPSPolicy()
	default:
		return usagef("-policy %q: want default or fips", *policy)
	}
	in := e.stdin
	name := "-"
	if fs.NArg() == 1 && fs.Arg(0) != "-" {
		name = fs.Arg(0)
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	data, err := io.ReadAll(io.LimitReader(in, maxInspectInput+1))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if len(data) > maxInspectInput {
		return fmt.Errorf("%s: over %d bytes: %w", name, maxInspectInput, envelope.ErrTooLarge)
	}
	ins, err := inspect(data, pol, *policy)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(ins)
	}
	printInspection(e.stdout, ins)
	return nil
}

// magics of the persisted formats (envelope FORMAT.md, shred).
const (
	magicHeader = "PVEH"
	magicRecord = "PVER"
	magicShred  = "PVSH"
	magicStream = "PVES"
)

// decodeInput returns data raw if it starts with a known magic, else
// decoded from hex (with or without PostgreSQL's \x) or base64.
func decodeInput(data []byte) ([]byte, string, error) {
	if hasMagic(data) {
		return data, "raw", nil
	}
	s := strings.TrimSpace(string(data))
	s = strings.TrimPrefix(s, `\x`)
	if b, err := hex.DecodeString(s); err == nil && hasMagic(b) {
		return b, "hex", nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && hasMagic(b) {
			return b, "base64", nil
		}
	}
	return nil, "", fmt.Errorf("not a piivault account, record or stream (no known magic, raw or in hex or base64): %w", envelope.ErrMalformed)
}

func hasMagic(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	switch string(b[:4]) {
	case magicHeader, magicRecord, magicShred, magicStream:
		return true
	}
	return false
}

func inspect(raw []byte, pol kdf.Policy, polName string) (*Inspection, error) {
	data, encoding, err := decodeInput(raw)
	if err != nil {
		return nil, err
	}
	ins := &Inspection{Encoding: encoding, Size: len(data)}
	switch string(data[:4]) {
	case magicHeader:
		if err := inspectHeader(ins, data, pol, polName); err != nil {
			return nil, err
		}
		return ins, nil
	case magicRecord:
		ins.Kind = "record"
		gen, err := envelope.RecordGeneration(data)
		if err != nil {
			return nil, err
		}
		ins.FormatVersion, ins.Suite = int(data[4]), int(data[5])
		ins.RecordKeyGeneration = &gen
		over := envelope.RecordOverhead
		if ins.FormatVersion == envelope.Version1 {
			over = envelope.RecordOverheadV1
		}
		n := len(data) - over
		ins.PlaintextSize = &n
		return ins, nil
	case magicShred:
		ins.Kind = "shred-layered"
		if len(data) > 4 {
			ins.FormatVersion = int(data[4])
		}
		ins.Note = "account record encrypted under the user's shred key: inspect needs the shred layer to see inside"
		return ins, nil
	default: // stream
		ins.Kind = "stream"
		if len(data) < envelope.StreamHeaderSize {
			return nil, fmt.Errorf("stream header of %d bytes, want %d: %w", len(data), envelope.StreamHeaderSize, envelope.ErrMalformed)
		}
		gen, err := envelope.StreamGeneration(data[:envelope.StreamHeaderSize])
		if err != nil {
			return nil, err
		}
		ins.FormatVersion, ins.Suite = int(data[4]), int(data[5])
		ins.RecordKeyGeneration = &gen
		ins.ChunkSize = 1 << data[10] // magic, version, suite, generation, log2 chunk size
		ins.Note = "the stream's length is known only by reading it with the key"
		return ins, nil
	}
}

func inspectHeader(ins *Inspection, data []byte, pol kdf.Policy, polName string) error {
	ins.Kind = "account"
	h, err := envelope.ParseHeader(data)
	if err != nil {
		return err
	}
	ins.FormatVersion = h.Version()
	ins.Policy = polName
	gen, kg := h.Generation(), h.KeyGeneration()
	ins.Generation, ins.KeyGeneration = &gen, &kg
	ins.OlderKeyGenerations = h.OlderKeyGenerations()
	for _, st := range h.Stanzas {
		si := StanzaInfo{Type: st.Type, BodySize: len(st.Body)}
		switch {
		case st.Type == envelope.TypePassword:
			si.Role = "password"
			p, err := envelope.PasswordParams(st)
			if err != nil {
				si.PolicyProblem = "malformed password stanza"
				f := false
				si.MeetsPolicy = &f
				break
			}
			si.KDF = p.String()
			up := pol.NeedsUpgrade(p)
			ok := !up
			if err := pol.Check(p); err != nil {
				ok = false
				si.PolicyProblem = policyProblem(err)
			} else if up {
				si.PolicyProblem = "below the policy's floor, or not its algorithm for new accounts: opens, and is upgraded at the next unlock"
			}
			si.MeetsPolicy, si.NeedsUpgrade = &ok, &up
		case st.Type == envelope.TypeRecovery:
			si.Role = "recovery"
		default:
			si.Role = "escrow"
			si.KeyID = keyIDText(st)
			if st.Type == escrow.TypeHPKE {
				ins.Escrow = append(ins.Escrow, si.KeyID)
				if len(st.Body) >= 2 {
					si.Type = fmt.Sprintf("%s (%s)", st.Type, escrow.Suite(binary.BigEndian.Uint16(st.Body)))
				}
			}
		}
		ins.Stanzas = append(ins.Stanzas, si)
	}
	return nil
}

// policyProblem names the rule an error of kdf.Policy.Check broke.
func policyProblem(err error) string {
	switch {
	case errors.Is(err, kdf.ErrParamsNotAllowed):
		return "algorithm not allowed by the policy: the account does not open under it"
	case errors.Is(err, kdf.ErrParamsTooCostly):
		return "above the policy's caps: refused before deriving"
	}
	return "malformed parameters"
}

// keyIDText is a stanza's key id: hex (an HPKE fingerprint, binary ids),
// or the text itself when it is printable ASCII.
func keyIDText(st *envelope.Stanza) string {
	if len(st.KeyID) == 0 {
		return ""
	}
	if st.Type != escrow.TypeHPKE {
		printable := true
		for _, c := range st.KeyID {
			if c < 0x21 || c > 0x7e {
				printable = false
			}
		}
		if printable {
			return string(st.KeyID)
		}
	}
	return hex.EncodeToString(st.KeyID)
}

func printInspection(w io.Writer, ins *Inspection) {
	var b bytes.Buffer
	line := func(k string, v any) { fmt.Fprintf(&b, "%-22s %v\n", k+":", v) }
	line("kind", ins.Kind)
	line("encoding", ins.Encoding)
	line("size", fmt.Sprintf("%d bytes", ins.Size))
	if ins.FormatVersion != 0 {
		line("format version", ins.FormatVersion)
	}
	if ins.Suite != 0 {
		line("suite", ins.Suite)
	}
	if ins.Generation != nil {
		line("generation", *ins.Generation)
	}
	if ins.KeyGeneration != nil {
		line("key generation", *ins.KeyGeneration)
	}
	if ins.Kind == "account" {
		if len(ins.OlderKeyGenerations) == 0 {
			line("older key generations", "none")
		} else {
			line("older key generations", strings.Trim(fmt.Sprint(ins.OlderKeyGenerations), "[]"))
		}
		line("policy", ins.Policy)
		line("stanzas", len(ins.Stanzas))
		for i, s := range ins.Stanzas {
			fmt.Fprintf(&b, "  [%d] %s: %s, body %d bytes\n", i, s.Role, s.Type, s.BodySize)
			if s.KeyID != "" {
				fmt.Fprintf(&b, "      key id: %s\n", s.KeyID)
			}
			if s.KDF != "" {
				fmt.Fprintf(&b, "      kdf: %s\n", s.KDF)
			}
			if s.MeetsPolicy != nil {
				fmt.Fprintf(&b, "      meets policy: %s", yesNo(*s.MeetsPolicy))
				if s.NeedsUpgrade != nil {
					fmt.Fprintf(&b, "; upgrade at next unlock: %s", yesNo(*s.NeedsUpgrade))
				}
				b.WriteString("\n")
			}
			if s.PolicyProblem != "" {
				fmt.Fprintf(&b, "      note: %s\n", s.PolicyProblem)
			}
		}
		if len(ins.Escrow) == 0 {
			line("escrow", "none")
		} else {
			line("escrow fingerprints", strings.Join(ins.Escrow, ", "))
		}
	}
	if ins.RecordKeyGeneration != nil {
		line("record key generation", *ins.RecordKeyGeneration)
	}
	if ins.ChunkSize != 0 {
		line("chunk size", fmt.Sprintf("%d bytes", ins.ChunkSize))
	}
	if ins.PlaintextSize != nil {
		line("plaintext size", fmt.Sprintf("%d bytes", *ins.PlaintextSize))
	}
	if ins.Note != "" {
		line("note", ins.Note)
	}
	_, _ = w.Write(b.Bytes())
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
