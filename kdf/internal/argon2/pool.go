package argon2

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Pool owns the arenas (block matrices) of one kdf.Deriver and reuses them
// across derivations. It is safe for concurrent use; concurrent
// derivations never share an arena.
//
// # Memory
//
// Arenas are mapped outside the Go heap where the platform has mmap (see
// mapBlocks), so the bytes a Pool holds are the bytes it has mapped, not
// what the garbage collector has yet to find. (Elsewhere, and in
// race-detector builds, arenas live on the Go heap: see OutsideHeap.) The
// Pool keeps
//
//	arenas in use + idle arenas <= budget
//
// given that its owner reserves, from the same budget, at least an
// arena's size for every derivation before calling Key and releases it
// only after Key returns (kdf's Limiter does): before handing out an
// arena, idle arenas are unmapped, oldest first, until the idle bytes fit
// in what the owner's reservations leave free. An arena in use is never
// larger than its derivation's reservation (Blocks never rounds up past
// the reserved memory for valid parameters).
//
// After each derivation the blocks it used are wiped (zeroed) before the
// arena becomes idle: a leftover matrix would let an attacker who can read
// process memory test password guesses without paying the memory-hard
// cost. Idle arenas are kept for reuse, so that a steady stream of logins
// at the same parameters faults no pages in; they are unmapped after
// idleTimeout without use, by Release, or when the Pool is garbage
// collected.
type Pool struct {
	s *poolState
}

type poolState struct {
	budget      int64
	reserved    func() int64 // the owner's reservations, including the caller's; nil: arenas in use
	idleTimeout time.Duration
	wipe        bool // tests turn it off to measure its cost

	runs atomic.Uint64 // derivations completed

	mu        sync.Mutex
	idle      []*arena // least recently used first
	idleBytes int64
	inUse     int64 // bytes of arenas handed out
	peak      int64 // most bytes mapped at once
	timer     *time.Timer
}

type arena struct {
	blocks   []Block
	mapped   bool // outside the Go heap: unmapBlocks frees it
	lastUsed time.Time
}

func (a *arena) bytes() int64 { return int64(len(a.blocks)) * BlockSize }

// NewPool returns a Pool holding at most budget bytes of arenas. reserved,
// if not nil, reports the bytes its owner has reserved for derivations
// running now, including the caller of Key or Trim (kdf passes its
// Limiter's InUse); nil means the arenas in use plus the one being handed
// out. Idle arenas are unmapped after idleTimeout without use (never if
// idleTimeout <= 0).
func NewPool(budget int64, idleTimeout time.Duration, reserved func() int64) *Pool {
	s := &poolState{budget: budget, reserved: reserved, idleTimeout: idleTimeout, wipe: true}
	p := &Pool{s: s}
	runtime.AddCleanup(p, func(s *poolState) { s.release() }, s)
	return p
}

// Key runs Argon2id (see the package-level Key) in an arena from the pool
// and wipes the arena afterwards. It fails only if the memory cannot be
// mapped.
func (p *Pool) Key(out, password, salt, secret, ad []byte, t, memoryKiB uint32, threads uint8) error {
	if t < 1 || threads < 1 {
		panic("argon2: t and threads must be positive")
	}
	nb := Blocks(memoryKiB, threads)
	a, err := p.s.get(nb)
	if err != nil {
		return err
	}
	Key(a.blocks, out, password, salt, secret, ad, t, memoryKiB, threads)
	p.s.runs.Add(1)
	p.s.put(a)
	runtime.KeepAlive(p)
	return nil
}

// Runs returns the number of derivations Key has completed: the engine's
// own count of Argon2id runs, for tests and metrics.
func (p *Pool) Runs() uint64 { return p.s.runs.Load() }

// Retained returns the bytes of idle arenas kept for reuse.
func (p *Pool) Retained() int64 {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.idleBytes
}

// Held returns the bytes of all arenas mapped now (in use and idle).
func (p *Pool) Held() int64 {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.inUse + p.s.idleBytes
}

// Peak returns the most bytes of arenas ever mapped at once.
func (p *Pool) Peak() int64 {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.s.peak
}

// Release unmaps every idle arena. Arenas in use are not affected; they
// become idle (and are kept) when their derivation ends.
func (p *Pool) Release() { p.s.release() }

// Trim unmaps idle arenas, oldest first, until they fit in the budget
// left free by the owner's reservations. The owner calls it after
// reserving memory for work that does not use the pool (scrypt), so that
// idle arenas and that work together stay within the budget.
func (p *Pool) Trim() {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.s.trimLocked(0)
}

// setWipe is for tests measuring what wiping costs.
func (p *Pool) setWipe(on bool) { p.s.wipe = on }

func (s *poolState) get(nb int) (*arena, error) {
	size := int64(nb) * BlockSize
	s.mu.Lock()
	defer s.mu.Unlock()
	var a *arena
	for i := len(s.idle) - 1; i >= 0; i-- {
		if len(s.idle[i].blocks) == nb {
			a = s.idle[i]
			s.idle = append(s.idle[:i], s.idle[i+1:]...)
			s.idleBytes -= size
			break
		}
	}
	if a == nil {
		s.trimLocked(size)
		blocks, mapped, err := mapBlocks(nb)
		if err != nil {
			return nil, fmt.Errorf("argon2: mapping %d bytes: %w", size, err)
		}
		a = &arena{blocks: blocks, mapped: mapped}
	} else {
		s.trimLocked(0)
	}
	s.inUse += size
	if h := s.inUse + s.idleBytes; h > s.peak {
		s.peak = h
	}
	return a, nil
}

// trimLocked unmaps idle arenas, oldest first, while the idle bytes exceed
// what the reservations leave free. adding is the size of an arena about
// to be mapped and not yet counted in inUse. s.mu is held.
func (s *poolState) trimLocked(adding int64) {
	var reserved int64
	if s.reserved != nil {
		reserved = s.reserved()
	} else {
		reserved = s.inUse + adding
	}
	for len(s.idle) > 0 && s.idleBytes > s.budget-reserved {
		s.free(0)
	}
}

// free unmaps idle arena i. s.mu is held.
func (s *poolState) free(i int) {
	a := s.idle[i]
	s.idle = append(s.idle[:i], s.idle[i+1:]...)
	s.idleBytes -= a.bytes()
	if a.mapped {
		unmapBlocks(a.blocks)
	}
	a.blocks = nil
}

func (s *poolState) put(a *arena) {
	if s.wipe {
		clear(a.blocks)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inUse -= a.bytes()
	a.lastUsed = time.Now()
	s.idle = append(s.idle, a)
	s.idleBytes += a.bytes()
	if s.idleTimeout > 0 && s.timer == nil {
		s.timer = time.AfterFunc(s.idleTimeout, s.expire)
	}
}

// expire unmaps the arenas idle for idleTimeout or longer and re-arms the
// timer for the rest.
func (s *poolState) expire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for len(s.idle) > 0 && now.Sub(s.idle[0].lastUsed) >= s.idleTimeout {
		s.free(0)
	}
	if len(s.idle) > 0 {
		s.timer = time.AfterFunc(s.idleTimeout-now.Sub(s.idle[0].lastUsed), s.expire)
	} else {
		s.timer = nil
	}
}

func (s *poolState) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.idle) > 0 {
		s.free(0)
	}
}
