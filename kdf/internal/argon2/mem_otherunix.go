//go:build unix && !linux && !race

package argon2

func adviseHuge(b []byte) {}
