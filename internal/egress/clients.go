package egress

import (
	"crypto/sha256"
	"encoding/binary"
	"net/http"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/webhook"
)

// maxTransports bounds how many distinct TLS settings keep a transport.
// Settings change rarely (a certificate renewal makes one new entry), so
// the bound only matters against churn; the least recently used transport
// goes first, its idle connections closed.
const maxTransports = 256

// Clients hands out the client for each destination: one transport (and
// connection pool) per distinct TLS settings, shared by every destination
// with the same ones, so the common case of no TLS settings shares a
// single pool; and, over each transport, one client that follows redirects
// and one that does not. Every transport dials through the same address
// check. Safe for concurrent use.
type Clients struct {
	opts Options
	now  func() time.Time

	mu    sync.Mutex
	byKey map[[sha256.Size]byte]*clientPair
}

type clientPair struct {
	direct    *http.Client // a 3xx is the answer
	following *http.Client // follows up to MaxRedirects
	lastUsed  time.Time
}

// NewClients returns an empty set of clients built with opts.
func NewClients(opts Options) *Clients {
	return &Clients{opts: opts, now: time.Now, byKey: map[[sha256.Size]byte]*clientPair{}}
}

// For returns the client for destination d: its TLS settings (CACert,
// ClientCert, ClientKey) and its redirect policy (FollowRedirects). Bad
// TLS material gives a *FieldError; the catalog refuses it earlier with
// ValidateTLS, so that is seen only for entries stored before validation
// existed.
func (c *Clients) For(d webhook.Destination) (*http.Client, error) {
	pair, err := c.pair(TLSOf(d))
	if err != nil {
		return nil, err
	}
	if d.FollowRedirects {
		return pair.following, nil
	}
	return pair.direct, nil
}

// CloseIdleConnections closes the idle connections of every transport.
func (c *Clients) CloseIdleConnections() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.byKey {
		p.direct.CloseIdleConnections()
	}
}

func (c *Clients) pair(t TLS) (*clientPair, error) {
	key := t.key()
	c.mu.Lock()
	defer c.mu.Unlock()
	if p, ok := c.byKey[key]; ok {
		p.lastUsed = c.now()
		return p, nil
	}
	cfg, err := t.config()
	if err != nil {
		return nil, err
	}
	transport := newTransport(c.opts, cfg)
	p := &clientPair{
		direct:    &http.Client{Transport: transport, CheckRedirect: noRedirects},
		following: &http.Client{Transport: &redirector{base: transport, max: MaxRedirects}, CheckRedirect: noRedirects},
		lastUsed:  c.now(),
	}
	if len(c.byKey) >= maxTransports {
		c.evictOldest()
	}
	c.byKey[key] = p
	return p, nil
}

// evictOldest drops the least recently used transport. Callers hold mu.
func (c *Clients) evictOldest() {
	var oldest [sha256.Size]byte
	var found *clientPair
	for k, p := range c.byKey {
		if found == nil || p.lastUsed.Before(found.lastUsed) {
			oldest, found = k, p
		}
	}
	if found != nil {
		delete(c.byKey, oldest)
		found.direct.CloseIdleConnections() // connections in use finish normally
	}
}

// key is a hash of the settings: a small fixed-size map key that keeps no
// further copy of the PEMs (a private key among them).
func (t TLS) key() [sha256.Size]byte {
	h := sha256.New()
	for _, s := range []string{t.CACert, t.ClientCert, t.ClientKey} {
		_ = binary.Write(h, binary.BigEndian, uint64(len(s))) // length-prefixed: no two settings collide by concatenation
		h.Write([]byte(s))
	}
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}
