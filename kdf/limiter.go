package kdf

import (
	"container/list"
	"context"
	"fmt"
	"sync"
)

// Limiter is a weighted semaphore counted in bytes: the memory budget that
// all derivations of a Deriver share. Acquire reserves bytes before a
// derivation allocates and Release gives them back, so the bytes reserved
// never exceed Size.
//
// Waiters are served strictly first come, first served: a large request at
// the head of the queue is not overtaken by smaller ones that arrive after
// it, so it cannot be starved. A Limiter is safe for concurrent use; the
// zero value is not usable, use NewLimiter.
type Limiter struct {
	mu      sync.Mutex
	size    int64
	inUse   int64
	peak    int64
	waiters list.List // of *waiter, in arrival order
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when the bytes are granted
}

// NewLimiter returns a Limiter with a budget of size bytes. It panics if
// size is not positive (a programming error).
func NewLimiter(size int64) *Limiter {
	if size <= 0 {
		panic("kdf: NewLimiter with a non-positive size")
	}
	return &Limiter{size: size}
}

// Acquire reserves n bytes, waiting while the budget is full. It returns
// ErrOverBudget at once if n is larger than the whole budget (it could
// never be granted), and the context's error, wrapped, if ctx ends first;
// a waiter whose ctx is cancelled returns at once and holds nothing. On
// success the caller must call Release(n). Acquire panics if n < 0.
func (l *Limiter) Acquire(ctx context.Context, n int64) error {
	if n < 0 {
		panic("kdf: Limiter.Acquire with a negative size")
	}
	if n > l.size {
		return fmt.Errorf("%w: needs %d bytes, budget is %d", ErrOverBudget, n, l.size)
	}
	done := ctx.Done()
	l.mu.Lock()
	if err := ctx.Err(); err != nil {
		l.mu.Unlock()
		return fmt.Errorf("kdf: waiting for memory: %w", err)
	}
	if l.size-l.inUse >= n && l.waiters.Len() == 0 {
		l.grant(n)
		l.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	elem := l.waiters.PushBack(w)
	l.mu.Unlock()

	select {
	case <-w.ready:
		return nil
	case <-done:
		l.mu.Lock()
		select {
		case <-w.ready:
			// Granted while we were being cancelled: give it back so the
			// caller, who sees an error, holds nothing.
			l.inUse -= n
			l.notify()
		default:
			front := l.waiters.Front() == elem
			l.waiters.Remove(elem)
			if front {
				// We were blocking the queue: others may fit now.
				l.notify()
			}
		}
		l.mu.Unlock()
		return fmt.Errorf("kdf: waiting for memory: %w", ctx.Err())
	}
}

// TryAcquire reserves n bytes if they are free now and nobody is waiting,
// and reports whether it did.
func (l *Limiter) TryAcquire(n int64) bool {
	if n < 0 {
		panic("kdf: Limiter.TryAcquire with a negative size")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.size-l.inUse >= n && l.waiters.Len() == 0 {
		l.grant(n)
		return true
	}
	return false
}

// Release gives back n bytes from an earlier Acquire. It panics if more is
// released than is held (a programming error).
func (l *Limiter) Release(n int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if n < 0 || n > l.inUse {
		panic("kdf: Limiter.Release of bytes not held")
	}
	l.inUse -= n
	l.notify()
}

// grant takes n bytes; l.mu is held.
func (l *Limiter) grant(n int64) {
	l.inUse += n
	if l.inUse > l.peak {
		l.peak = l.inUse
	}
}

// notify grants waiters from the head of the queue while they fit; l.mu is
// held. It stops at the first that does not fit (FIFO).
func (l *Limiter) notify() {
	for {
		e := l.waiters.Front()
		if e == nil {
			return
		}
		w := e.Value.(*waiter)
		if l.size-l.inUse < w.n {
			return
		}
		l.grant(w.n)
		l.waiters.Remove(e)
		close(w.ready)
	}
}

// Size returns the budget in bytes.
func (l *Limiter) Size() int64 { return l.size }

// InUse returns the bytes reserved now.
func (l *Limiter) InUse() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inUse
}

// Peak returns the most bytes ever reserved at once. It never exceeds Size.
func (l *Limiter) Peak() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.peak
}

// Waiting returns the number of Acquire calls waiting now.
func (l *Limiter) Waiting() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.waiters.Len()
}
