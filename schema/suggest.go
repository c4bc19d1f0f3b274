package schema

import (
	"fmt"

	"github.com/etcdplay/etcdplay/internal/suggest"
)

// didYouMean is suggest.Closest phrased as a hint, or "" when nothing is
// close.
func didYouMean(name string, candidates []string) string {
	if s := suggest.Closest(name, candidates); s != "" {
		return fmt.Sprintf("did you mean %q?", s)
	}
	return ""
}
