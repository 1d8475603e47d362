package envelope

//go:generate go run ./internal/genvectors -out ../testdata/envelope
