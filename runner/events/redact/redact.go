package redact

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
)

// Mask is what a secret is replaced with.
const Mask = "[redacted]"

// secretWords are the key fragments that mark a value as secret. They are
// matched case-insensitively anywhere in the key, so "tls.key", "KeyFile",
// "etcd_password" and "private_key_pem" all match.
var secretWords = []string{"password", "passwd", "passphrase", "token", "secret", "private", "credential", "apikey", "api_key", "accesskey", "access_key"}

// IsSecretKey reports whether a field with this key must never be written.
// "key" counts only as a word of its own ("tls.key", "KeyFile", "ssh_key"),
// so that counts such as "keys" in a backup manifest stay readable.
func IsSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) {
			return true
		}
	}
	for _, w := range words(key) {
		if w == "key" {
			return true
		}
	}
	return false
}

// words splits a field name at punctuation and camelCase boundaries,
// lower-cased: "sshKeyFile" -> ssh, key, file; "TLSKey" -> tls, key.
func words(s string) []string {
	var out []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			out = append(out, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	rs := []rune(s)
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prevLower := !unicode.IsUpper(cur[len(cur)-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if prevLower || nextLower {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return out
}

// secretName is a name that marks what follows it as secret, in flags,
// assignments, headers and JSON/YAML keys: DB_PASSWORD, etcd-token,
// apiKey, X-Auth-Token, client_secret, private_key.
//
// No '.' after the secret word: "credentials-port.yaml:5:45" is a file
// position, not an assignment.
const secretName = `[A-Za-z0-9_.-]*(?i:password|passwd|pwd|passphrase|token|secret|credential|api_?key|private_?key|access_?key)[A-Za-z0-9_-]*`

// value is a secret value as written: quoted (with spaces), or a run of
// characters up to a space, quote or separator.
const value = `(?:"[^"]*"|'[^']*'|[^\s"',;&|)]+)`

var (
	// pemBlock matches a whole PEM block, or a BEGIN line and everything
	// after it when the END line is missing (output cut short).
	pemBlock = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*-----(?s:.*?)(?:-----END [A-Z0-9 ]*-----|\z)`)
	patterns = []struct {
		re   *regexp.Regexp
		repl string
	}{
		// URL userinfo: scheme://user:secret@host keeps the user.
		{regexp.MustCompile(`(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@'"]*:)([^/\s@'"]+)@`), "${1}" + Mask + "@"},
		// Authorization headers, with or without a scheme word.
		{regexp.MustCompile(`(?i)(\bauthorization"?\s*[:=]\s*"?(?:bearer|basic|token|digest|negotiate)?\s*)` + value), "${1}" + Mask},
		{regexp.MustCompile(`(?i)(\bbearer\s+)([A-Za-z0-9._~+/=-]{4,})`), "${1}" + Mask},
		// user:password after -u / --user (curl, etcdctl) keeps the user.
		{regexp.MustCompile(`((?:^|\s)(?:-u|--user)(?:=|\s+)["']?[^\s:"']+:)([^\s"']+)`), "${1}" + Mask},
		// A flag named like a secret: --password=x, -token x, --client-secret "a b".
		{regexp.MustCompile(`((?:^|\s)--?` + secretName + `(?:=|\s+))` + value), "${1}" + Mask},
		// An assignment or key named like a secret: DB_PASSWORD=x,
		// db_password="x", "api_token": "x", secret: x, vars.db_password == "x".
		{regexp.MustCompile(`(\b` + secretName + `"?\s*(?:[:=]=?|!=)\s*)` + value), "${1}" + Mask},
	}
)

// known holds secret values met while loading (the values of secret-named
// vars); String masks them wherever they appear, whatever surrounds them.
var known struct {
	sync.RWMutex
	values map[string]bool
}

// Known registers values as secrets: every later String masks them. Values
// shorter than 4 characters are ignored (masking "1" everywhere would make
// output unreadable without protecting anything).
func Known(values ...string) {
	known.Lock()
	defer known.Unlock()
	if known.values == nil {
		known.values = map[string]bool{}
	}
	for _, v := range values {
		if len(v) >= 4 {
			known.values[v] = true
		}
	}
}

// KnownFrom registers the values of every secret-named key in m (vars),
// nested maps included.
func KnownFrom(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case map[string]any:
			KnownFrom(x)
		case string:
			if IsSecretKey(k) {
				Known(x)
			}
		default:
			if IsSecretKey(k) && x != nil {
				Known(fmt.Sprint(x))
			}
		}
	}
}

// String removes PEM blocks, the values of secret-looking flags,
// assignments, headers and URL userinfo, and every known secret value from
// s. It is the one redaction every output goes through.
func String(s string) string {
	s = pemBlock.ReplaceAllString(s, Mask)
	// sudoers' NOPASSWD: tag names no secret; what follows it is the
	// command a missing rule must allow, which the operator needs to read.
	const tag, hold = "NOPASSWD:", "\x00sudoers-tag\x00"
	s = strings.ReplaceAll(s, tag, hold)
	for _, p := range patterns {
		s = p.re.ReplaceAllString(s, p.repl)
	}
	s = strings.ReplaceAll(s, hold, tag)
	known.RLock()
	defer known.RUnlock()
	for v := range known.values {
		s = strings.ReplaceAll(s, v, Mask)
	}
	return s
}

// Value returns v as it may be written under key: Mask when the key looks
// secret, otherwise v with every string inside it (maps and slices
// included) passed through String and every nested key checked again.
// Values of other types are returned as they are, except Stringers and
// errors, which are turned into redacted strings because their text is
// what would be written.
func Value(key string, v any) any {
	if IsSecretKey(key) {
		return Mask
	}
	return scrub(v)
}

func scrub(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return String(x)
	case []byte:
		return String(string(x))
	case error:
		return String(x.Error())
	case fmt.Stringer:
		return String(x.String())
	case map[string]any:
		return Fields(x)
	case map[string]string:
		out := make(map[string]string, len(x))
		for k, s := range x {
			if IsSecretKey(k) {
				out[k] = Mask
			} else {
				out[k] = String(s)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = scrub(e)
		}
		return out
	case []string:
		out := make([]string, len(x))
		for i, e := range x {
			out[i] = String(e)
		}
		return out
	default:
		return v
	}
}

// Fields returns a redacted copy of m; nil stays nil. The input is never
// modified, so a caller's map can be shared safely.
func Fields(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = Value(k, v)
	}
	return out
}
