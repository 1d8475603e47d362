package serverkey

//go:generate go run ./internal/genvectors
