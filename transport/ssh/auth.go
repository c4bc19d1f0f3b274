package ssh

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	xssh "golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// EncryptedKeyError is an identity file protected by a passphrase whose
// key the agent does not hold. etcdplay never prompts in the middle of a
// run, so the key has to be in the agent.
type EncryptedKeyError struct {
	Host  string
	Files []string
}

func (e *EncryptedKeyError) Error() string {
	return fmt.Sprintf("ssh %s: identity %s is encrypted and ssh-agent does not hold it",
		e.Host, strings.Join(e.Files, ", "))
}

// Hint says how to make the key usable without a prompt.
func (e *EncryptedKeyError) Hint() string {
	return fmt.Sprintf("load it into the agent with 'ssh-add %s' (and make sure SSH_AUTH_SOCK is set), then run again", e.Files[0])
}

// auth holds what one dial authenticates with.
type auth struct {
	signers   []xssh.Signer
	encrypted []string // identity files skipped because they need a passphrase
	agentConn net.Conn
}

func (a *auth) close() {
	if a.agentConn != nil {
		a.agentConn.Close()
	}
}

// loadAuth collects signers in OpenSSH's order: every key the agent holds,
// then the identity files (explicit ones first, then the defaults that
// exist). They go into one publickey method, because x/crypto tries each
// method name only once. With IdentitiesOnly (ssh_config), agent keys are
// used only when they match an identity file, as OpenSSH does; it keeps an
// agent full of keys from using up the server's MaxAuthTries.
func loadAuth(t *target) (*auth, error) {
	a := &auth{}
	type idFile struct {
		path   string
		signer xssh.Signer    // nil when encrypted
		pub    xssh.PublicKey // nil when unknown (encrypted PEM without .pub)
	}
	var files []idFile
	for i, f := range t.identityFiles {
		explicit := i < t.explicitIDs
		pem, err := os.ReadFile(f)
		if err != nil {
			if explicit {
				return nil, fmt.Errorf("ssh %s: identity file: %w", t, err)
			}
			continue // a default file that does not exist
		}
		signer, err := xssh.ParsePrivateKey(pem)
		var missing *xssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			pub := missing.PublicKey
			if pub == nil {
				pub = readPub(f + ".pub")
			}
			files = append(files, idFile{path: f, pub: pub})
		case err != nil:
			return nil, fmt.Errorf("ssh %s: identity file %s: %w", t, f, err)
		default:
			files = append(files, idFile{path: f, signer: signer, pub: signer.PublicKey()})
		}
	}
	fileHas := func(pub xssh.PublicKey) bool {
		for _, f := range files {
			if f.pub != nil && bytes.Equal(f.pub.Marshal(), pub.Marshal()) {
				return true
			}
		}
		return false
	}
	var agentKeys [][]byte
	if t.agentSocket != "" {
		// A dead agent socket is not fatal: OpenSSH also goes on with files.
		if c, err := net.Dial("unix", t.agentSocket); err == nil {
			a.agentConn = c
			if ss, err := agent.NewClient(c).Signers(); err == nil {
				for _, s := range ss {
					if t.identitiesOnly && !fileHas(s.PublicKey()) {
						continue
					}
					a.signers = append(a.signers, s)
					agentKeys = append(agentKeys, s.PublicKey().Marshal())
				}
			}
		}
	}
	inAgent := func(pub xssh.PublicKey) bool {
		for _, k := range agentKeys {
			if pub != nil && bytes.Equal(k, pub.Marshal()) {
				return true
			}
		}
		return false
	}
	for _, f := range files {
		switch {
		case inAgent(f.pub):
			// the agent signs with it already
		case f.signer == nil:
			a.encrypted = append(a.encrypted, f.path)
		default:
			a.signers = append(a.signers, f.signer)
		}
	}
	if len(a.signers) == 0 {
		a.close()
		if len(a.encrypted) > 0 {
			return nil, &EncryptedKeyError{Host: t.String(), Files: a.encrypted}
		}
		return nil, &NoIdentityError{Host: t.String(), Tried: t.identityFiles}
	}
	return a, nil
}

func readPub(path string) xssh.PublicKey {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	pub, _, _, _, err := xssh.ParseAuthorizedKey(b)
	if err != nil {
		return nil
	}
	return pub
}

func (a *auth) methods() []xssh.AuthMethod {
	return []xssh.AuthMethod{xssh.PublicKeys(a.signers...)}
}

// NoIdentityError is a dial with neither an agent key nor an identity file.
type NoIdentityError struct {
	Host  string
	Tried []string
}

func (e *NoIdentityError) Error() string {
	return fmt.Sprintf("ssh %s: no key to authenticate with: no ssh-agent keys and none of %s exists",
		e.Host, strings.Join(e.Tried, ", "))
}

// Hint for a missing key.
func (e *NoIdentityError) Hint() string {
	return "set ssh.identity in the inventory, IdentityFile in ssh_config, or load a key into ssh-agent"
}
