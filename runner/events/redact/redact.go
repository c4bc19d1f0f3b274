package redact

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
)

// Mask is what a secret is replaced with.
const Mask = "[redacted]"

// secretWords are the key fragments that mark a value as secret. They are
// matched case-insensitively anywhere in the key, so "tls.key", "KeyFile",
// "etcd_password" and "private_key_pem" all match.
var secretWords = []string{"password", "passwd", "token", "secret", "private", "credential"}

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

var (
	// pemBlock matches a whole PEM block, or a BEGIN line and everything
	// after it when the END line is missing (output cut short).
	pemBlock = regexp.MustCompile(`-----BEGIN [A-Z0-9 ]*-----(?s:.*?)(?:-----END [A-Z0-9 ]*-----|\z)`)
	// secretFlag matches a command-line flag whose name holds a secret word,
	// with its value after '=' or a space: --password=x, -token x,
	// --client-key-pass 'x'. The value is a run of non-space characters.
	secretFlag = regexp.MustCompile(`(?i)((?:^|\s)--?[a-z0-9_-]*(?:password|passwd|token|secret|credential)[a-z0-9_-]*[= ]+)([^\s]+)`)
	// userFlag matches etcdctl's --user name:password and keeps the name.
	userFlag = regexp.MustCompile(`(?i)((?:^|\s)--user[= ]+[^\s:]+:)([^\s]+)`)
)

// String removes PEM blocks and the values of secret-looking flags from s.
func String(s string) string {
	if !strings.Contains(s, "-") {
		return s // every pattern below starts with a dash
	}
	s = pemBlock.ReplaceAllString(s, Mask)
	s = secretFlag.ReplaceAllString(s, "${1}"+Mask)
	s = userFlag.ReplaceAllString(s, "${1}"+Mask)
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

// Keys returns the keys of m in sorted order, the order every writer uses
// so that output is deterministic.
func Keys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
