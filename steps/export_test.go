package steps

// SetFetchChunk shrinks the v2 archive's fetch size so a small bed backup
// still comes in many pieces; it returns the function that restores it.
func SetFetchChunk(n int) (restore func()) {
	old := fetchChunk
	fetchChunk = n
	return func() { fetchChunk = old }
}
