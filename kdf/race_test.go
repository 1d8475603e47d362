//go:build race

package kdf

// raceEnabled is true under -race, where the large known-answer runs are
// too slow for CI and are skipped.
const raceEnabled = true
