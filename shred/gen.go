package shred

//go:generate env PIIVAULT_WRITE_VECTORS=1 go test -count=1 -run=^TestWriteVectors$ .
