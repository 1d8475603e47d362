package envelope_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log"

	"github.com/piivault/piivault/envelope"
)

// ExampleRecordKey_NewStreamWriter seals an ID document image of any size
// in 64 KiB chunks and opens it again. Plaintext comes out a verified chunk
// at a time: keep it aside until the copy ends without an error.
func ExampleRecordKey_NewStreamWriter() {
	key, _ := envelope.NewKey(nil)
	rk, err := envelope.NewRecordKeyForGeneration(key, 2, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer rk.Destroy()
	doc := envelope.Binding{UserID: "user-900-00-0001", Label: "id-document"}
	image := bytes.Repeat([]byte{0xff, 0xd8, 0xff, 0xe0}, 5<<20) // 20 MiB

	var stored bytes.Buffer
	w, err := rk.NewStreamWriter(&stored, doc, 0)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(image)); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // seals the last chunk
		log.Fatal(err)
	}
	gen, _ := envelope.StreamGeneration(stored.Bytes())

	r, err := rk.NewStreamReader(bytes.NewReader(stored.Bytes()), doc)
	if err != nil {
		log.Fatal(err) // header: another key, generation or binding
	}
	var out bytes.Buffer
	if _, err := io.Copy(&out, r); err != nil {
		log.Fatal(err) // discard out: the stream is not authentic
	}
	fmt.Println(gen, bytes.Equal(out.Bytes(), image))

	// The last chunk cut off: everything before it verifies, the end does not.
	cut := stored.Bytes()[:stored.Len()-100]
	r, _ = rk.NewStreamReader(bytes.NewReader(cut), doc)
	_, err = io.Copy(io.Discard, r)
	fmt.Println(errors.Is(err, envelope.ErrPayloadAuth))
	// Output:
	// 2 true
	// true
}
