package lock

import (
	"fmt"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// TestUnavailableSeenThroughWrapping: AcquireV3 retries on Unavailable,
// which it reads from errors it has itself wrapped with %w.
func TestUnavailableSeenThroughWrapping(t *testing.T) {
	err := fmt.Errorf("lock c: record holder: %w", status.Error(codes.Unavailable, "error reading from server: EOF"))
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("status.Code(%v) = %v, want Unavailable", err, status.Code(err))
	}
}
