//go:build unix && !race

package argon2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// OutsideHeap reports whether arenas are mapped outside the Go heap (mmap)
// in this build.
const OutsideHeap = true

// hugePage is the size of a transparent huge page on the platforms that
// have them (x86-64 and arm64 Linux with 4 KiB base pages).
const hugePage = 2 << 20

// mapBlocks maps n blocks of anonymous private memory outside the Go heap,
// so that the memory an arena holds is exactly what it maps, whatever the
// garbage collector does. Regions of at least one huge page are aligned to
// one (the excess of the over-sized mapping is unmapped at once) and
// advised MADV_HUGEPAGE where the kernel knows it, so that the random
// reads of data-dependent addressing miss the TLB less. Pages are faulted
// in on first write and stay resident until unmapBlocks.
func mapBlocks(n int) ([]Block, bool, error) {
	size := uintptr(n) * BlockSize
	if size < hugePage {
		p, err := unix.MmapPtr(-1, 0, nil, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err != nil {
			return nil, false, err
		}
		return unsafe.Slice((*Block)(p), n), true, nil
	}
	p, err := unix.MmapPtr(-1, 0, nil, size+hugePage, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		return nil, false, err
	}
	base := uintptr(p)
	head := (hugePage - base%hugePage) % hugePage
	if head > 0 {
		munmap(p, head)
	}
	if tail := hugePage - head; tail > 0 {
		munmap(unsafe.Add(p, head+size), tail)
	}
	start := unsafe.Add(p, head)
	adviseHuge(unsafe.Slice((*byte)(start), size))
	return unsafe.Slice((*Block)(start), n), true, nil
}

// unmapBlocks returns the memory of a mapBlocks region to the system.
func unmapBlocks(b []Block) {
	munmap(unsafe.Pointer(&b[0]), uintptr(len(b))*BlockSize)
}

func munmap(p unsafe.Pointer, n uintptr) {
	if err := unix.MunmapPtr(p, n); err != nil {
		panic("argon2: munmap: " + err.Error())
	}
}
