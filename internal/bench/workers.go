package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/hookd/hookd/internal/config"
	"github.com/hookd/hookd/internal/webhook"
)

// How long a worker process may take to answer /readyz, and to exit after
// SIGTERM before it is killed.
const (
	workerReadyTimeout = 30 * time.Second
	workerStopTimeout  = 5 * time.Second
)

// workerOptions say how to start the `hookd worker` processes.
type workerOptions struct {
	Binary string
	// Count is how many processes to start.
	Count int
	// Dir is their working directory, and holds the catalog file.
	Dir string
	// ConfigFile is the YAML file of the bench's sources and destinations.
	ConfigFile string
	// Env is appended to the bench's environment, so its values win.
	Env []string
	// Stderr receives each process's standard error, every line prefixed
	// with the process's name.
	Stderr io.Writer
}

// workers are `hookd worker` processes that deliver what the bench's
// in-process hookd (role api) ingests. Stop must be called once they are
// started, on every path.
type workers struct {
	procs    []*workerProc
	stopOnce sync.Once
	stopErr  error
}

type workerProc struct {
	name   string
	cmd    *exec.Cmd
	addr   string
	stderr *prefixWriter
	// done is closed when the process has exited and err holds cmd.Wait's
	// answer.
	done chan struct{}
	err  error
	// stopping is set before the bench signals the process, so that its
	// exit is not taken for a failure.
	stopping bool
}

// startWorkers starts opts.Count processes and waits until each answers
// /readyz. On error every process already started has been stopped.
//
// Each process gets a free loopback port chosen here rather than PORT=0:
// at log level warn a worker does not log the address it bound, so the
// bench could not find its /readyz. The port is free when chosen; another
// program taking it before the worker binds is unlikely on loopback and
// ends in an error naming the worker.
func startWorkers(ctx context.Context, opts workerOptions) (*workers, error) {
	w := &workers{}
	var mu sync.Mutex // one line at a time on the shared stderr
	for i := range opts.Count {
		port, err := freePort()
		if err != nil {
			w.stop()
			return nil, err
		}
		p := &workerProc{name: fmt.Sprintf("hookd worker %d", i+1), addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), done: make(chan struct{})}
		p.stderr = &prefixWriter{w: opts.Stderr, mu: &mu, prefix: p.name + ": "}
		p.cmd = exec.Command(opts.Binary, "worker", "--config", opts.ConfigFile)
		p.cmd.Dir = opts.Dir // away from a .env or hookd.yaml where the bench runs
		p.cmd.Env = append(os.Environ(), opts.Env...)
		p.cmd.Env = append(p.cmd.Env, "PORT="+strconv.Itoa(port), "HOOKD_HOST=127.0.0.1")
		p.cmd.Stderr = p.stderr
		if err := p.cmd.Start(); err != nil {
			w.stop()
			return nil, fmt.Errorf("start %s (%s): %w", p.name, opts.Binary, err)
		}
		go func() {
			p.err = p.cmd.Wait()
			p.stderr.flush()
			close(p.done)
		}()
		w.procs = append(w.procs, p)
	}
	for _, p := range w.procs {
		if err := p.waitReady(ctx); err != nil {
			w.stop()
			return nil, err
		}
	}
	return w, nil
}

// waitReady polls the process's /readyz until it answers 200.
func (p *workerProc) waitReady(ctx context.Context) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(workerReadyTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := client.Get("http://" + p.addr + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			return fmt.Errorf("%s exited before it was ready (%v); its output is above", p.name, p.err)
		case <-deadline.C:
			return fmt.Errorf("%s did not answer /readyz on %s within %s", p.name, p.addr, workerReadyTimeout)
		case <-tick.C:
		}
	}
}

// exited returns an error when a process ended before the bench stopped it.
func (w *workers) exited() error {
	for _, p := range w.procs {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during the run (%v); its output is above", p.name, p.err)
		default:
		}
	}
	return nil
}

// peakRSSMiB is the largest peak RSS among the processes still running.
func (w *workers) peakRSSMiB() float64 {
	var peak float64
	for _, p := range w.procs {
		peak = max(peak, peakRSSMiBOf(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid)))
	}
	return peak
}

// stop sends SIGTERM to every process, waits up to workerStopTimeout for
// them to exit, then kills the rest. It reports processes that exited with
// an error or had to be killed. Idempotent.
func (w *workers) stop() error {
	w.stopOnce.Do(func() {
		var errs []error
		for _, p := range w.procs {
			select {
			case <-p.done:
				continue // exited on its own: reported below
			default:
			}
			p.stopping = true
			if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				_ = p.cmd.Process.Kill()
			}
		}
		deadline := time.Now().Add(workerStopTimeout)
		for _, p := range w.procs {
			if !p.waitExit(deadline) {
				errs = append(errs, fmt.Errorf("%s did not exit within %s of SIGTERM and was killed", p.name, workerStopTimeout))
				continue
			}
			if p.err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", p.name, p.err))
			} else if !p.stopping {
				errs = append(errs, fmt.Errorf("%s exited during the run", p.name))
			}
		}
		w.stopErr = errors.Join(errs...)
	})
	return w.stopErr
}

// waitExit waits until deadline for the process to exit, then kills it;
// it reports whether the process exited without being killed.
func (p *workerProc) waitExit(deadline time.Time) bool {
	select {
	case <-p.done:
		return true
	default:
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-p.done:
		return true
	case <-timer.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port for a worker process: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// workerEnv is the configuration the worker processes take from their
// environment: the bench's store and queue, and the settings that the
// in-process hookd gets from the bench.
func workerEnv(cfg config.Config) []string {
	return []string{
		"DATABASE_URL=" + cfg.DatabaseURL,
		// Empty cancels an inherited REDIS_URL: the store's queue.
		"REDIS_URL=" + cfg.RedisURL,
		"HOOKD_REDIS_PREFIX=" + cfg.RedisPrefix,
		"HOOKD_MIGRATE=false", // the in-process hookd migrated the store
		"HOOKD_ALLOW_PRIVATE_DESTINATIONS=true",
		"HOOKD_WORKERS=" + strconv.Itoa(cfg.Workers),
		"HOOKD_LOG_LEVEL=warn",
	}
}

// writeCatalog writes sources and destinations to path in the format that
// config.LoadFile reads, for processes that must see the same catalog.
func writeCatalog(path string, sources []webhook.Source, destinations []webhook.Destination) error {
	var f config.File
	for _, s := range sources {
		sf := config.SourceFile{Name: s.Name, MaxBodyBytes: s.MaxBodyBytes}
		if s.Verify.Type != "" {
			sf.Verify = &config.VerifyFile{Type: s.Verify.Type, Secret: s.Verify.Secret}
		}
		f.Sources = append(f.Sources, sf)
	}
	for _, d := range destinations {
		f.Destinations = append(f.Destinations, config.DestinationFile{
			Name: d.Name, URL: d.URL, Sources: d.Sources, EventTypes: d.EventTypes, Headers: d.Headers,
			Secret: d.Secret, Timeout: d.Timeout.String(), MaxInFlight: d.MaxInFlight,
		})
	}
	data, err := yaml.MarshalWithOptions(f, yaml.OmitEmpty())
	if err != nil {
		return fmt.Errorf("catalog file: %w", err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("catalog file: %w", err)
	}
	return nil
}

// catalogPath is where the bench writes its catalog for worker processes.
func catalogPath(dir string) string { return filepath.Join(dir, "bench.yaml") }

// prefixWriter writes each complete line to w with prefix before it. One
// goroutine writes to a prefixWriter (exec's copy of a process's stderr);
// mu, shared by the writers of all processes, keeps their lines whole.
type prefixWriter struct {
	w      io.Writer
	mu     *sync.Mutex
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		p.emit(p.buf[:i+1])
		p.buf = p.buf[i+1:]
	}
	return len(b), nil
}

// flush writes a last line that had no newline.
func (p *prefixWriter) flush() {
	if len(p.buf) > 0 {
		p.emit(append(p.buf, '\n'))
		p.buf = nil
	}
}

func (p *prefixWriter) emit(line []byte) {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A failed write to the bench's stderr has nowhere better to go.
	_, _ = p.w.Write(append([]byte(p.prefix), line...))
}
