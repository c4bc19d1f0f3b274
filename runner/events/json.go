package events

import (
	"encoding/json"
	"io"
	"sync"
)

// JSON writes each event as one JSON object on its own line (JSON lines),
// the `-o json` view. Lines are written whole, one Write call each, so a
// reader following the stream never sees half an event.
type JSON struct {
	mu  sync.Mutex
	w   io.Writer
	err error
}

// NewJSON returns a JSON-lines sink writing to w.
func NewJSON(w io.Writer) *JSON { return &JSON{w: w} }

// Emit writes e as one line. After the first write error the sink stops
// writing and keeps the error for Err: a closed pipe must not stop an
// upgrade, but the caller should learn about it at the end.
func (s *JSON) Emit(e Event) {
	e = Redact(e)
	b, err := json.Marshal(e)
	if err != nil && e.Fields != nil {
		// one odd field (a func, a channel) must not end the stream
		e.Fields = map[string]any{"fields_error": err.Error()}
		b, err = json.Marshal(e)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if err != nil {
		s.err = err
		return
	}
	if _, err := s.w.Write(append(b, '\n')); err != nil {
		s.err = err
	}
}

// Err returns the first error met while writing, if any.
func (s *JSON) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
