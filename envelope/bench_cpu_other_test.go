//go:build !linux

package envelope

// threadCPU is not measured outside Linux.
func threadCPU() int64 { return 0 }
