package bench

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress shows a bench run as it goes: a bar on a terminal (seconds of
// sending, then deliveries while draining), elsewhere one plain line a
// second, so that a run in CI or a log is not silent for a minute.
type progress struct {
	w        io.Writer
	count    func() (accepted, delivered int64)
	began    time.Time
	stopOnce sync.Once
	stopped  chan struct{}
	done     chan struct{}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// startProgress reports on w until stop. count reads the counters;
// sending lasts about d; drainTotal, called when sending has ended, is
// how many deliveries are awaited.
func startProgress(w io.Writer, d time.Duration, count func() (accepted, delivered int64), sending func() bool, drainTotal func() int64) *progress {
	p := &progress{w: w, count: count, began: time.Now(), stopped: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		var bar *progressbar.ProgressBar
		terminal := isTerminal(w)
		if terminal {
			bar = progressbar.NewOptions64(int64(d/time.Second), progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("sending"), progressbar.OptionSetWidth(30),
				progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
		}
		draining := false
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-p.stopped:
				if bar != nil {
					_ = bar.Finish()
				}
				return
			case <-tick.C:
			}
			accepted, delivered := p.count()
			if !terminal {
				fmt.Fprintf(w, "%4.0fs  %d accepted, %d delivered\n", time.Since(p.began).Seconds(), accepted, delivered)
				continue
			}
			if !draining && !sending() {
				draining = true
				_ = bar.Finish()
				bar = progressbar.NewOptions64(drainTotal(), progressbar.OptionSetWriter(w),
					progressbar.OptionSetDescription("delivering"), progressbar.OptionSetWidth(30),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond))
			}
			if draining {
				_ = bar.Set64(delivered)
			} else {
				_ = bar.Set64(int64(time.Since(p.began) / time.Second))
			}
		}
	}()
	return p
}

// stop ends the report before the results are printed. Idempotent.
func (p *progress) stop() {
	p.stopOnce.Do(func() { close(p.stopped) })
	<-p.done
}
