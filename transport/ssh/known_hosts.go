package ssh

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// UnknownHostKeyError is a host that no known_hosts file mentions.
type UnknownHostKeyError struct {
	Host        string // as named in errors (alias and address)
	Addr        string // host:port looked up in known_hosts
	Key         xssh.PublicKey
	Fingerprint string // SHA256:...
	Files       []string
}

func (e *UnknownHostKeyError) Error() string {
	return fmt.Sprintf("host key for %s is not known (%s %s)", e.Addr, e.Key.Type(), e.Fingerprint)
}

// Hint says how to check the key and trust it.
func (e *UnknownHostKeyError) Hint() string {
	return fmt.Sprintf("check it with the owner of the host or '%s', then add it to known_hosts or run with --accept-new-host-keys",
		e.CheckCommand())
}

// CheckCommand is an OpenSSH command line that prints the host's key
// fingerprint, to compare with the one in the error.
func (e *UnknownHostKeyError) CheckCommand() string {
	host, port, _ := net.SplitHostPort(e.Addr)
	scan := "ssh-keyscan"
	if port != "22" {
		scan += " -p " + port
	}
	return fmt.Sprintf("%s -t %s %s | ssh-keygen -lf -", scan, keyscanType(e.Key.Type()), host)
}

// HostKeyChangedError is a host whose key differs from the one on record:
// possibly a man in the middle. It is never accepted automatically.
type HostKeyChangedError struct {
	Host        string
	Addr        string
	Key         xssh.PublicKey
	Fingerprint string
	Known       []knownhosts.KnownKey // the keys on record for Addr
}

func (e *HostKeyChangedError) Error() string {
	var b strings.Builder
	b.WriteString("\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	b.WriteString("@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n")
	b.WriteString("@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n")
	b.WriteString("IT IS POSSIBLE THAT SOMEONE IS DOING SOMETHING NASTY!\n")
	fmt.Fprintf(&b, "%s now presents the %s key %s.\n", e.Addr, e.Key.Type(), e.Fingerprint)
	for _, k := range e.Known {
		fmt.Fprintf(&b, "known_hosts has %s %s at %s:%d\n", k.Key.Type(), xssh.FingerprintSHA256(k.Key), k.Filename, k.Line)
	}
	fmt.Fprintf(&b, "refusing to connect to %s (--accept-new-host-keys never accepts a changed key)", e.Host)
	return b.String()
}

// Hint says what to do when the change is legitimate.
func (e *HostKeyChangedError) Hint() string {
	f := "~/.ssh/known_hosts"
	if len(e.Known) > 0 {
		f = e.Known[0].Filename
	}
	return fmt.Sprintf("if the host was really reinstalled, confirm the new key with its owner, then remove the old entry with 'ssh-keygen -R %s -f %s'",
		knownhosts.Normalize(e.Addr), f)
}

// HostKeyRevokedError is a host presenting a key marked @revoked.
type HostKeyRevokedError struct {
	Addr string
	Key  knownhosts.KnownKey
}

func (e *HostKeyRevokedError) Error() string {
	return fmt.Sprintf("host key for %s (%s) is marked @revoked at %s:%d; refusing to connect", e.Addr,
		xssh.FingerprintSHA256(e.Key.Key), e.Key.Filename, e.Key.Line)
}

// Hint for a revoked key.
func (e *HostKeyRevokedError) Hint() string {
	return "the key was revoked on purpose; ask the host's owner for its current key"
}

// hostKeys checks the key of one target against its known_hosts files.
type hostKeys struct {
	t        *target
	files    []string // those that exist
	check    xssh.HostKeyCallback
	caLines  map[string]bool // "file:line" of @cert-authority entries
	accepted bool            // accept-new wrote a key during this dial
}

func loadHostKeys(t *target) (*hostKeys, error) {
	h := &hostKeys{t: t, caLines: map[string]bool{}}
	for _, f := range t.knownHosts {
		if _, err := os.Stat(f); err == nil {
			h.files = append(h.files, f)
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("ssh: %s: known_hosts: %w", t, err)
		}
	}
	cb, err := knownhosts.New(h.files...)
	if err != nil {
		return nil, fmt.Errorf("ssh: %s: %w", t, err)
	}
	h.check = cb
	for _, f := range h.files {
		if err := h.scanMarkers(f); err != nil {
			return nil, fmt.Errorf("ssh: %s: %w", t, err)
		}
	}
	return h, nil
}

// scanMarkers notes which lines are @cert-authority, because knownhosts
// reports those lines among the "wanted" keys too and the algorithm
// preference must know whether a certificate may be offered.
func (h *hostKeys) scanMarkers(file string) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 64*1024), 1024*1024)
	for n := 1; s.Scan(); n++ {
		if strings.HasPrefix(strings.TrimSpace(s.Text()), "@cert-authority") {
			h.caLines[fmt.Sprintf("%s:%d", file, n)] = true
		}
	}
	return s.Err()
}

var (
	probeOnce sync.Once
	probeKey  xssh.PublicKey
)

// known returns the entries that match addr, split into plain keys and
// certificate authorities. knownhosts has no lookup call, so it asks the
// callback about a throwaway key that cannot be on record and reads the
// KeyError, which lists every entry for the address.
func (h *hostKeys) known(addr string) (plain []knownhosts.KnownKey, ca bool) {
	probeOnce.Do(func() {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			panic(err)
		}
		probeKey, _ = xssh.NewPublicKey(pub)
	})
	err := h.check(addr, &net.TCPAddr{IP: net.IPv4zero}, probeKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, false
	}
	for _, k := range ke.Want {
		if h.caLines[fmt.Sprintf("%s:%d", k.Filename, k.Line)] {
			ca = true
		} else {
			plain = append(plain, k)
		}
	}
	return plain, ca
}

// algorithms orders the host key algorithms the way OpenSSH does: types we
// already know for this host first, so a host with several keys presents
// the one on record instead of looking "changed". Certificates are offered
// only when an @cert-authority line covers the host, because x/crypto
// cannot fall back to the plain key once a certificate fails.
func (h *hostKeys) algorithms(addr string) []string {
	plain, ca := h.known(addr)
	all := []string{xssh.KeyAlgoED25519, xssh.KeyAlgoECDSA256, xssh.KeyAlgoECDSA384, xssh.KeyAlgoECDSA521,
		xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256}
	var out []string
	if ca {
		out = append(out, xssh.CertAlgoED25519v01, xssh.CertAlgoECDSA256v01, xssh.CertAlgoECDSA384v01,
			xssh.CertAlgoECDSA521v01, xssh.CertAlgoRSASHA512v01, xssh.CertAlgoRSASHA256v01)
	}
	for _, k := range plain {
		for _, a := range algosForKeyType(k.Key.Type()) {
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	for _, a := range all {
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	return out
}

func algosForKeyType(t string) []string {
	if t == xssh.KeyAlgoRSA {
		return []string{xssh.KeyAlgoRSASHA512, xssh.KeyAlgoRSASHA256}
	}
	return []string{t}
}

// callback is the HostKeyCallback for a dial of addr.
func (h *hostKeys) callback(addr string) xssh.HostKeyCallback {
	return func(_ string, remote net.Addr, key xssh.PublicKey) error {
		err := h.check(addr, remote, key)
		if err == nil {
			return nil
		}
		var revoked *knownhosts.RevokedError
		if errors.As(err, &revoked) {
			return &HostKeyRevokedError{Addr: addr, Key: revoked.Revoked}
		}
		var ke *knownhosts.KeyError
		if !errors.As(err, &ke) {
			// A certificate that fails its checks (wrong principal, expired,
			// unknown authority) lands here.
			return fmt.Errorf("host certificate of %s rejected: %w", addr, err)
		}
		if _, isCert := key.(*xssh.Certificate); !isCert && len(ke.Want) > 0 {
			var plain []knownhosts.KnownKey
			for _, k := range ke.Want {
				if !h.caLines[fmt.Sprintf("%s:%d", k.Filename, k.Line)] {
					plain = append(plain, k)
				}
			}
			if len(plain) > 0 {
				// A key of the same type that differs is the classic
				// change; a host that no longer offers any type on record
				// is treated the same way (OpenSSH refuses it too).
				return &HostKeyChangedError{Host: h.t.String(), Addr: addr, Key: key,
					Fingerprint: xssh.FingerprintSHA256(key), Known: plain}
			}
		}
		if h.t.acceptNew {
			var werr error
			for _, f := range h.t.appendTo {
				if werr = appendKnownHost(f, addr, key); werr == nil {
					break
				}
			}
			if werr != nil {
				return fmt.Errorf("accept new host key of %s: no writable known_hosts file: %w", addr, werr)
			}
			h.accepted = true
			return nil
		}
		return &UnknownHostKeyError{Host: h.t.String(), Addr: addr, Key: key,
			Fingerprint: xssh.FingerprintSHA256(key), Files: h.files}
	}
}

var appendMu sync.Mutex

// appendKnownHost writes "[host]:port type base64" to file, creating it
// and its folder like OpenSSH does. The host is written plain, so the
// operator can read what was trusted, unless the file already hashes its
// host names (HashKnownHosts yes): then it is hashed too, or the new line
// would list the operator's hosts in clear beside hashed ones.
func appendKnownHost(file, addr string, key xssh.PublicKey) error {
	appendMu.Lock()
	defer appendMu.Unlock()
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return err
	}
	host := knownhosts.Normalize(addr)
	if hashedFile(file) {
		host = knownhosts.HashHostname(host)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	line := knownhosts.Line([]string{host}, key) + "\n"
	if _, err := f.WriteString(line); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func keyscanType(t string) string {
	switch {
	case strings.HasPrefix(t, "ssh-ed25519"):
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	case strings.HasPrefix(t, "ssh-rsa"), strings.HasPrefix(t, "rsa-"):
		return "rsa"
	}
	return t
}

// hashedFile reports whether a known_hosts file holds hashed host names
// ("|1|salt|hash" entries, as ssh-keygen -H writes them).
func hashedFile(file string) bool {
	b, err := os.ReadFile(file)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 0 && f[0] == "@cert-authority" || len(f) > 0 && f[0] == "@revoked" {
			f = f[1:]
		}
		if len(f) > 0 && strings.HasPrefix(f[0], "|1|") {
			return true
		}
	}
	return false
}
