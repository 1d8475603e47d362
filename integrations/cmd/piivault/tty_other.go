//go:build !linux

package main

// isTerminal: no progress bar outside Linux (plain progress lines).
func isTerminal(fd uintptr) bool { return false }
