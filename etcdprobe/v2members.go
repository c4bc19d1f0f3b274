package etcdprobe

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// V2Member is one entry of a 2.x cluster's /v2/members. Name is "" for a
// member added but not started yet.
type V2Member struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	PeerURLs   []string `json:"peerURLs"`
	ClientURLs []string `json:"clientURLs"`
}

// V2Members lists the members through the member the inventory names.
func (p *Prober) V2Members(ctx context.Context, via string) ([]V2Member, error) {
	ep, err := p.resolve(ctx, via)
	if err != nil {
		return nil, err
	}
	var out struct {
		Members []V2Member `json:"members"`
	}
	if err := p.getJSON(ctx, ep, "/v2/members", &out); err != nil {
		return nil, fmt.Errorf("%s (%s): GET /v2/members: %w", ep.Name, ep.URL, err)
	}
	return out.Members, nil
}

// V2MemberAdd is the 2.x members API's add (POST /v2/members), through
// the member the inventory names: the cluster then expects a member at
// peerURLs, which joins with --initial-cluster-state existing.
func (p *Prober) V2MemberAdd(ctx context.Context, via string, peerURLs []string) (V2Member, error) {
	var m V2Member
	err := p.sendJSON(ctx, via, http.MethodPost, "/v2/members", map[string]any{"peerURLs": peerURLs}, &m)
	return m, err
}

// V2MemberUpdate is the 2.x members API's update (PUT /v2/members/ID): it
// sets the member's peer URLs.
func (p *Prober) V2MemberUpdate(ctx context.Context, via, id string, peerURLs []string) error {
	return p.sendJSON(ctx, via, http.MethodPut, "/v2/members/"+id, map[string]any{"peerURLs": peerURLs}, nil)
}

// sendJSON sends body as JSON to the member the inventory names and
// decodes a JSON answer into out (nil: the answer is not read).
func (p *Prober) sendJSON(ctx context.Context, via, method, path string, body, out any) error {
	ep, err := p.resolve(ctx, via)
	if err != nil {
		return err
	}
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, ep.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if p.opts.Username != "" {
		req.SetBasicAuth(p.opts.Username, p.opts.Password)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return fmt.Errorf("%s (%s): %s %s: %w", ep.Name, ep.URL, method, path, err)
	}
	defer resp.Body.Close()
	rb, err := readLimited(resp.Body, 1<<20)
	if err != nil {
		return fmt.Errorf("%s (%s): %s %s: %w", ep.Name, ep.URL, method, path, err)
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s (%s): %s %s: %w", ep.Name, ep.URL, method, path, &httpStatusError{Code: resp.StatusCode, Body: clip(rb)})
	}
	if out != nil && len(bytes.TrimSpace(rb)) > 0 {
		if err := json.Unmarshal(rb, out); err != nil {
			return fmt.Errorf("%s (%s): %s %s: decode %q: %w", ep.Name, ep.URL, method, path, clip(rb), err)
		}
	}
	return nil
}

// v2Node is a node of GET /v2/keys?recursive=true.
type v2Node struct {
	Dir   bool     `json:"dir"`
	Nodes []v2Node `json:"nodes"`
}

func (n v2Node) keys() int {
	if !n.Dir {
		return 1
	}
	k := 0
	for _, c := range n.Nodes {
		k += c.keys()
	}
	return k
}

// V2KeyCount counts the keys (not directories) of the whole 2.x store,
// read through the member the inventory names with a quorum read. 2.x
// stores are small (the guides ask to call the etcd team above 100 MB),
// so the listing is read whole, up to 1 GiB.
func (p *Prober) V2KeyCount(ctx context.Context, via string) (int, error) {
	ep, err := p.resolve(ctx, via)
	if err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ep.URL+"/v2/keys/?recursive=true&quorum=true", nil)
	if err != nil {
		return 0, err
	}
	if p.opts.Username != "" {
		req.SetBasicAuth(p.opts.Username, p.opts.Password)
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s (%s): GET /v2/keys/?recursive=true: %w", ep.Name, ep.URL, err)
	}
	defer resp.Body.Close()
	body, err := readLimited(resp.Body, 1<<30)
	if err != nil {
		return 0, fmt.Errorf("%s (%s): GET /v2/keys/?recursive=true: %w", ep.Name, ep.URL, err)
	}
	if resp.StatusCode/100 != 2 {
		return 0, fmt.Errorf("%s (%s): GET /v2/keys/?recursive=true: %w", ep.Name, ep.URL, &httpStatusError{Code: resp.StatusCode, Body: clip(body)})
	}
	var out struct {
		Node v2Node `json:"node"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return 0, fmt.Errorf("%s (%s): decode the key listing: %w", ep.Name, ep.URL, err)
	}
	return out.Node.keys(), nil
}
