//go:build !unix || race

package argon2

// OutsideHeap reports whether arenas are mapped outside the Go heap (mmap)
// in this build.
const OutsideHeap = false

// mapBlocks falls back to the Go heap where there is no mmap: the memory
// is then returned to the system only after the garbage collector has
// found the arena unreachable. Race-detector builds use it too: the race
// detector checks only Go memory, and arenas on the heap let it check
// that concurrent derivations and lanes never touch each other's blocks
// unsynchronised.
func mapBlocks(n int) ([]Block, bool, error) { return make([]Block, n), false, nil }

func unmapBlocks(b []Block) {}
