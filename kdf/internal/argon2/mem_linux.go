//go:build linux && !race

package argon2

import "golang.org/x/sys/unix"

// adviseHuge asks for transparent huge pages; where the kernel has them
// disabled the advice fails or is ignored, harmlessly.
func adviseHuge(b []byte) { _ = unix.Madvise(b, unix.MADV_HUGEPAGE) }
