package shred

//go:generate go run ./internal/genvectors
