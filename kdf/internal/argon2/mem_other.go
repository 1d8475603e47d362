//go:build !unix

package argon2

// mapBlocks falls back to the Go heap where there is no mmap: the memory
// is then returned to the system only after the garbage collector has
// found the arena unreachable.
func mapBlocks(n int) ([]Block, bool, error) { return make([]Block, n), false, nil }

func unmapBlocks(b []Block) {}
