//go:build unix

// Command streammem measures the peak resident memory (RSS) of sealing and
// opening a stream with the envelope package, to show it does not grow with
// the stream's length. Each size runs in a fresh child process that seals
// generated plaintext into a pipe and opens the other end (both directions
// at once), checking a running SHA-256 of the plaintext; the parent prints
// each child's peak RSS (getrusage ru_maxrss) and fails when 1 GiB needs
// more than -slack MiB over 1 MiB.
//
//	go run ./envelope/internal/streammem            # 1 MiB and 1 GiB
//	go run ./envelope/internal/streammem -sizes 1,64,1024,4096 -chunk 1048576
package main

import (
	"bytes"
	"crypto/sha256"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/piivault/piivault/envelope"
)

func main() {
	child := flag.Int64("child", -1, "internal: seal and open this many bytes")
	sizes := flag.String("sizes", "1,1024", "stream sizes in MiB, comma separated; the first is the baseline")
	chunk := flag.Int("chunk", 0, "chunk size (0: envelope.DefaultStreamChunkSize)")
	slack := flag.Int("slack", 4, "allowed MiB of peak RSS over the baseline")
	flag.Parse()
	if *child >= 0 {
		runChild(*child, *chunk)
		return
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	var base int64 = -1
	fail := false
	for _, s := range strings.Split(*sizes, ",") {
		mib, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			log.Fatal(err)
		}
		cmd := exec.Command(self, "-child", strconv.FormatInt(mib<<20, 10), "-chunk", strconv.Itoa(*chunk))
		cmd.Stderr = os.Stderr
		start := time.Now()
		out, err := cmd.Output()
		if err != nil {
			log.Fatalf("%d MiB: %v", mib, err)
		}
		rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss // KiB on Linux
		if base < 0 {
			base = rss
		}
		d := rss - base
		fmt.Printf("%6d MiB sealed and opened in %v: peak RSS %.1f MiB (%+.1f MiB over the first) %s",
			mib, time.Since(start).Round(time.Millisecond), float64(rss)/1024, float64(d)/1024, out)
		if d > int64(*slack)<<10 {
			fail = true
		}
	}
	if fail {
		fmt.Printf("FAIL: peak RSS grew by more than %d MiB\n", *slack)
		os.Exit(1)
	}
	fmt.Printf("ok: peak RSS within %d MiB of the baseline\n", *slack)
}

// gen yields n bytes of a fixed pattern without holding them.
type gen struct{ n, off int64 }

func (g *gen) Read(p []byte) (int, error) {
	if g.off >= g.n {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), g.n-g.off)]
	for i := range p {
		p[i] = byte((g.off + int64(i)) * 131 >> 3)
	}
	g.off += int64(len(p))
	return len(p), nil
}

func runChild(n int64, chunk int) {
	runtime.GOMAXPROCS(2)
	k, err := envelope.NewRecordKey(bytes.Repeat([]byte{7}, envelope.KeySize), nil)
	if err != nil {
		log.Fatal(err)
	}
	b := envelope.Binding{UserID: "user-900-00-0001", Label: "id-document"}
	pr, pw := io.Pipe()
	want := sha256.New()
	go func() {
		w, err := k.NewStreamWriter(pw, b, chunk)
		if err != nil {
			pw.CloseWithError(err)
			return
		}
		if _, err := io.Copy(io.MultiWriter(w, want), &gen{n: n}); err != nil {
			pw.CloseWithError(err)
			return
		}
		pw.CloseWithError(w.Close())
	}()
	r, err := k.NewStreamReader(pr, b)
	if err != nil {
		log.Fatal(err)
	}
	got := sha256.New()
	m, err := r.WriteTo(got)
	if err != nil || m != n {
		log.Fatalf("opened %d of %d bytes: %v", m, n, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		log.Fatal("plaintext differs")
	}
	fmt.Println("(plaintext checked)")
}
