//go:build unix && !linux

package argon2

func adviseHuge(b []byte) {}
