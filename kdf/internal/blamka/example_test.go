package blamka_test

import (
	"fmt"

	"github.com/piivault/piivault/kdf/internal/blamka"
)

// One step of an Argon2 fill: the new block is G(previous, reference) in
// the first pass, and XORed into the old block in later passes.
func Example() {
	var prev, ref, cur blamka.Block
	for i := range prev {
		prev[i], ref[i] = uint64(i), uint64(3*i+1)
	}
	blamka.ProcessBlock(&cur, &prev, &ref)    // pass 0
	blamka.ProcessBlockXOR(&cur, &prev, &ref) // a later pass, same inputs
	fmt.Println(cur == blamka.Block{})        // x XOR x
	// Output: true
}
