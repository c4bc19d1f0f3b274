// Package redact keeps secrets out of everything etcdplay writes down.
//
// Invariant 8 of docs/safety.md says no key, password, token or TLS key may appear in a
// log, plan, journal or report. Every writer (the event sinks, the journal,
// the report) passes what it is about to write through this package, so the
// rule lives in one place and is tested once, instead of relying on each
// caller to remember which field might hold a secret.
//
// Two rules are applied:
//
//   - a value whose key looks like a secret (key, password, passwd, token,
//     secret, private, credential) is replaced with [redacted], whatever
//     its type;
//   - inside any string, PEM blocks ("-----BEGIN ...-----" to the matching
//     END line, or to the end of the string when the block was cut short)
//     and the values of secret-looking command-line flags
//     (--password=x, --token x, --user name:pass) are replaced.
//
// Redaction errs on the side of hiding: a field named "key_count" is hidden
// too. Name such fields differently rather than weakening the rule.
package redact
