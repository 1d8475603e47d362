package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// progress reports a bulk job's advance on stderr: a bar redrawn in place
// on a terminal (at most every redrawEvery), plain lines at each tenth
// otherwise (logs stay readable).
type progress struct {
	w     io.Writer
	tty   bool
	label string
	total int

	mu       sync.Mutex
	done     int
	start    time.Time
	lastDraw time.Time
	lastTen  int
	drawn    bool
}

const (
	redrawEvery = 100 * time.Millisecond
	barWidth    = 30
)

func newProgress(w io.Writer, tty bool, label string, total int) *progress {
	return &progress{w: w, tty: tty, label: label, total: total, start: time.Now()}
}

// set records done accounts out of total.
func (p *progress) set(done int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done = done
	if p.tty {
		if now := time.Now(); now.Sub(p.lastDraw) >= redrawEvery || done >= p.total {
			p.lastDraw = now
			p.draw()
		}
		return
	}
	if p.total <= 0 {
		return
	}
	if ten := min(done, p.total) * 10 / p.total; ten > p.lastTen {
		p.lastTen = ten
		fmt.Fprintf(p.w, "%s: %d/%d (%d%%)\n", p.label, done, p.total, ten*10)
	}
}

func (p *progress) draw() {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.done)/float64(p.total), 1)
	}
	fill := int(frac * barWidth)
	bar := strings.Repeat("=", fill) + strings.Repeat(" ", barWidth-fill)
	if fill > 0 && fill < barWidth {
		bar = bar[:fill-1] + ">" + bar[fill:]
	}
	el := time.Since(p.start)
	rate := float64(p.done) / max(el.Seconds(), 1e-3)
	eta := "--"
	if rate > 0 && p.done < p.total {
		eta = (time.Duration(float64(p.total-p.done)/rate) * time.Second).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r\x1b[K%s [%s] %d/%d %3.0f%% %.0f/s eta %s", p.label, bar, p.done, p.total, frac*100, rate, eta)
	p.drawn = true
}

// finish ends the bar's line (terminal) so later messages start clean.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		p.draw()
		fmt.Fprintln(p.w)
	}
}
