package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Read returns every record of the journal in state folder dir, in the
// order written. A final line that does not decode (a crash tore it
// mid-write) is left out and described in warning; that is never an error,
// since a record is only trusted once Append has returned. A bad line
// anywhere else is an error naming its line. A missing journal is an
// error wrapping fs.ErrNotExist: there is nothing to resume.
func Read(dir string) (records []Record, warning string, err error) {
	path := filepath.Join(dir, FileName)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", fmt.Errorf("journal: read %w", err)
	}
	p, err := parse(path, data)
	if err != nil {
		return nil, "", err
	}
	return p.records, p.warning, nil
}

type parsed struct {
	records  []Record
	validEnd int    // bytes up to the end of the last good line
	warning  string // set when a torn last line was left out
}

func parse(path string, data []byte) (parsed, error) {
	var p parsed
	line := 0
	for off := 0; off < len(data); {
		line++
		end := bytes.IndexByte(data[off:], '\n')
		next := len(data)
		if end >= 0 {
			end += off
			next = end + 1
		} else {
			end = len(data)
		}
		text := bytes.TrimSpace(data[off:end])
		if len(text) == 0 && end < len(data) {
			off = next // a blank line: harmless
			p.validEnd = next
			continue
		}
		var r Record
		err := json.Unmarshal(text, &r)
		if err == nil && (r.RunID == "" || r.Kind == "") {
			err = fmt.Errorf("no run id or kind")
		}
		if err != nil {
			if isBlank(data[next:]) {
				p.warning = fmt.Sprintf("%s:%d: ignored a torn last line (%d bytes), left by a crash while writing", path, line, len(data)-off)
				return p, nil
			}
			return p, fmt.Errorf("journal: %s:%d: damaged record (%v); the journal cannot be trusted past this line, look at it before resuming", path, line, err)
		}
		p.records = append(p.records, r)
		p.validEnd = next
		off = next
	}
	return p, nil
}

// isBlank reports whether b holds only whitespace or NUL bytes (a crashed
// file system can leave zeroes after the last write).
func isBlank(b []byte) bool {
	for _, c := range b {
		switch c {
		case ' ', '\t', '\r', '\n', 0:
		default:
			return false
		}
	}
	return true
}
