// Command go_omclient drives the log collection job API of `logpack serve`
// (PRODUCT.md §9 and §11) the way Ops Manager's published Go client does.
//
// It reproduces the wire behaviour of go.mongodb.org/ops-manager's log
// collection calls (opsmngr.LogCollections Create/Get/List/Extend/Retry/
// Delete and opsmngr.Logs Download, v0.61.0, as mongocli uses them) and of
// the github.com/mongodb-forks/digest transport (v1.1.0). It is written
// from their documented behaviour, not copied from them: the Go module
// proxy is not reachable in CI, so the real modules cannot be fetched, and
// this program uses the standard library only. What is reproduced:
//
//   - requests: the same methods, paths (relative to the base URL, which
//     gets a trailing slash), query strings (go-querystring with omitempty,
//     sorted by url.Values.Encode), headers (Accept: application/json,
//     Content-Type: application/json only when there is a body,
//     Accept: application/gzip for a download, User-Agent go-ops-manager)
//     and bodies (json.Encoder with SetEscapeHTML(false), so a trailing
//     newline; the whole LogCollectionJob with its omitempty fields);
//   - answers: any status outside 200-299 is an error whose body is
//     json.Unmarshal'ed into ErrorResponse (on a decoding error the client
//     keeps the raw body as Reason and has no errorCode); a 2xx body is
//     decoded with json.Decoder into the declared type (io.EOF ignored), or
//     copied to the writer for a download; Extend, Retry and Delete do not
//     read the body of a success;
//   - the digest transport: every request is first sent without
//     credentials; on a 401 the first WWW-Authenticate header is parsed
//     strictly (it must start with "Digest ", parameters are split on ", ",
//     any parameter other than realm, domain, nonce, opaque, stale,
//     algorithm and qop makes the challenge bad), MD5 (the default) or
//     SHA-256, qop "auth" or none, a fresh 16-hex-digit cnonce and nc
//     00000001 for every request, and ONE authenticated retry: a stale nonce
//     is not retried, the 401 goes back to the caller.
//
// Usage: go_omclient BASE_URL GROUP_ID PUBLIC_KEY PRIVATE_KEY OUT_DIR
//
// OUT_DIR receives the downloaded archive. The server's deployment must be
// examples/sample plus a cluster "goRetry" with a missing log (so that its
// job fails and can be retried), as tests/serve_go_client.rs sets it up.
//
// It runs the scenario of main() and prints a JSON report on stdout. Every
// answer the real client would not accept, or that differs from what
// PRODUCT.md promises, is a problem: named on stderr with the call, what
// was sent and what came back, listed under "problems" in the report, and
// the exit status is then 1. Options of the client that neither mongocli
// nor PRODUCT.md uses are tried too; a refusal of those is a "warning".
package main

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ---------------------------------------------------------------------------
// The digest transport (github.com/mongodb-forks/digest, RFC 7616)

var (
	errBadChallenge      = errors.New("challenge is bad")
	errAlgNotImplemented = errors.New("alg not implemented")
)

// digestStats records what the transport saw, for the report.
type digestStats struct {
	mu             sync.Mutex
	Challenges     int            `json:"challenges"`
	Algorithms     map[string]int `json:"algorithms"`
	Qops           map[string]int `json:"qops"`
	Unauthorized   int            `json:"unauthorizedAfterCredentials"`
	LastChallenge  string         `json:"lastChallenge"`
	LastAuthorized string         `json:"lastAuthorization"`
}

type digestTransport struct {
	Username  string
	Password  string
	Transport http.RoundTripper
	stats     *digestStats
}

type digestChallenge struct {
	Realm, Domain, Nonce, Opaque, Stale, Algorithm, Qop string
}

// parseDigestChallenge parses a WWW-Authenticate value as the transport
// does: no quoted-string grammar, just ", " between parameters.
func parseDigestChallenge(input string) (*digestChallenge, error) {
	const ws = " \n\r\t"
	s := strings.Trim(input, ws)
	if !strings.HasPrefix(s, "Digest ") {
		return nil, fmt.Errorf("%w: %q does not start with \"Digest \"", errBadChallenge, input)
	}
	s = strings.Trim(s[len("Digest "):], ws)
	c := &digestChallenge{Algorithm: "MD5"}
	for _, part := range strings.Split(s, ", ") {
		kv := strings.SplitN(part, "=", 2)
		known := map[string]*string{
			"realm": &c.Realm, "domain": &c.Domain, "nonce": &c.Nonce,
			"opaque": &c.Opaque, "stale": &c.Stale, "algorithm": &c.Algorithm, "qop": &c.Qop,
		}
		field, ok := known[kv[0]]
		if !ok {
			return nil, fmt.Errorf("%w: parameter %q of %q is not one the transport knows", errBadChallenge, kv[0], input)
		}
		if len(kv) != 2 {
			// The real transport indexes the value unchecked: it would panic.
			return nil, fmt.Errorf("%w: parameter %q of %q has no value (the real transport panics here)", errBadChallenge, kv[0], input)
		}
		*field = strings.Trim(kv[1], `"`)
	}
	return c, nil
}

func hexHash(newHash func() hash.Hash, data string) string {
	h := newHash()
	io.WriteString(h, data)
	return fmt.Sprintf("%x", h.Sum(nil))
}

// authorization computes the Authorization header for one request.
func (t *digestTransport) authorization(req *http.Request, c *digestChallenge) (string, error) {
	var newHash func() hash.Hash
	switch c.Algorithm {
	case "MD5":
		newHash = md5.New
	case "SHA-256":
		newHash = sha256.New
	default:
		return "", fmt.Errorf("%w: algorithm %q", errAlgNotImplemented, c.Algorithm)
	}
	// The challenge's qop is used as it is: "auth" or nothing.
	if c.Qop != "auth" && c.Qop != "" {
		return "", fmt.Errorf("%w: qop %q (only a single \"auth\" or none)", errAlgNotImplemented, c.Qop)
	}
	uri := req.URL.RequestURI()
	ha1 := hexHash(newHash, fmt.Sprintf("%s:%s:%s", t.Username, c.Realm, t.Password))
	ha2 := hexHash(newHash, fmt.Sprintf("%s:%s", req.Method, uri))
	const nc = 1 // new credentials for every request: the count is always 1
	var response, cnonce string
	if c.Qop == "auth" {
		b := make([]byte, 8)
		if _, err := io.ReadFull(rand.Reader, b); err != nil {
			return "", err
		}
		cnonce = fmt.Sprintf("%x", b)[:16]
		response = hexHash(newHash, fmt.Sprintf("%s:%s:%08x:%s:%s:%s", ha1, c.Nonce, nc, cnonce, c.Qop, ha2))
	} else {
		response = hexHash(newHash, fmt.Sprintf("%s:%s:%s", ha1, c.Nonce, ha2))
	}
	fields := []string{
		fmt.Sprintf("username=%q", t.Username),
		fmt.Sprintf("realm=%q", c.Realm),
		fmt.Sprintf("nonce=%q", c.Nonce),
		fmt.Sprintf("uri=%q", uri),
		fmt.Sprintf("response=%q", response),
	}
	if c.Algorithm != "" {
		fields = append(fields, fmt.Sprintf("algorithm=%q", c.Algorithm))
	}
	if c.Opaque != "" {
		fields = append(fields, fmt.Sprintf("opaque=%q", c.Opaque))
	}
	if c.Qop != "" {
		fields = append(fields, "qop="+c.Qop, fmt.Sprintf("nc=%08x", nc), fmt.Sprintf("cnonce=%q", cnonce))
	}
	return "Digest " + strings.Join(fields, ", "), nil
}

// RoundTrip sends req without credentials; on a 401 it answers the first
// challenge once.
func (t *digestTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	retry := req.Clone(req.Context())
	if req.Body != nil && req.GetBody == nil {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		retry.Body = io.NopCloser(bytes.NewReader(body))
	}
	resp, err := t.Transport.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	header := resp.Header.Get("WWW-Authenticate")
	// The first answer is dropped; a small body is read so that the
	// connection can be used again.
	if resp.ContentLength == -1 || resp.ContentLength <= 2<<10 {
		io.CopyN(io.Discard, resp.Body, 2<<10)
	}
	resp.Body.Close()
	if header == "" {
		// No challenge: the 401 goes to the caller as it is.
		return resp, nil
	}
	c, err := parseDigestChallenge(header)
	if err != nil {
		return nil, err
	}
	auth, err := t.authorization(retry, c)
	if err != nil {
		return nil, err
	}
	t.stats.mu.Lock()
	t.stats.Challenges++
	t.stats.Algorithms[c.Algorithm]++
	t.stats.Qops[c.Qop]++
	t.stats.LastChallenge = header
	t.stats.LastAuthorized = auth
	t.stats.mu.Unlock()
	if req.Body != nil && req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	retry.Header.Set("Authorization", auth)
	resp, err = t.Transport.RoundTrip(retry)
	if err == nil && resp.StatusCode == http.StatusUnauthorized {
		t.stats.mu.Lock()
		t.stats.Unauthorized++
		t.stats.mu.Unlock()
	}
	return resp, err
}

// ---------------------------------------------------------------------------
// The client's types: Go types, JSON tags and field order as declared by
// go.mongodb.org/ops-manager/opsmngr (logs.go, link.go, opsmngr.go).

// LogCollectionJob is a job resource. The order of the fields is the order
// of the keys in a body the client sends.
type LogCollectionJob struct {
	ID                         string      `json:"id,omitempty"`
	GroupID                    string      `json:"groupId,omitempty"`
	UserID                     string      `json:"userId,omitempty"`
	CreationDate               string      `json:"creationDate,omitempty"`
	ExpirationDate             string      `json:"expirationDate,omitempty"`
	Status                     string      `json:"status,omitempty"`
	ResourceType               string      `json:"resourceType,omitempty"`
	ResourceName               string      `json:"resourceName,omitempty"`
	RootResourceName           string      `json:"rootResourceName,omitempty"`
	RootResourceType           string      `json:"rootResourceType,omitempty"`
	DownloadURL                string      `json:"downloadUrl,omitempty"`
	Redacted                   *bool       `json:"redacted,omitempty"`
	LogCollectionFromDate      int64       `json:"logCollectionFromDate,omitempty"` // epoch ms
	LogCollectionToDate        int64       `json:"logCollectionToDate,omitempty"`   // epoch ms
	LogTypes                   []string    `json:"logTypes,omitempty"`
	SizeRequestedPerFileBytes  int64       `json:"sizeRequestedPerFileBytes,omitempty"`
	UncompressedSizeTotalBytes int64       `json:"uncompressedSizeTotalBytes,omitempty"`
	ChildJobs                  []*ChildJob `json:"childJobs,omitempty"`
}

// ChildJob is one element of childJobs (verbose answers).
type ChildJob struct {
	AutomationAgentID          string `json:"automationAgentId,omitempty"`
	ErrorMessage               string `json:"errorMessage,omitempty"`
	FinishDate                 string `json:"finishDate"`
	HostName                   string `json:"hostName"`
	LogCollectionType          string `json:"logCollectionType"`
	Path                       string `json:"path"`
	StartDate                  string `json:"startDate"`
	Status                     string `json:"status"`
	UncompressedDiskSpaceBytes int64  `json:"uncompressedDiskSpaceBytes"`
}

// Link is an element of links.
type Link struct {
	Rel  string `json:"rel,omitempty"`
	Href string `json:"href,omitempty"`
}

// LogCollectionJobs is a page of jobs.
type LogCollectionJobs struct {
	Links      []*Link             `json:"links"`
	Results    []*LogCollectionJob `json:"results"`
	TotalCount int                 `json:"totalCount"`
}

// ErrorResponse is what a non-2xx answer is decoded into. No version of
// the client declares a "parameters" field: it is ignored, like any key
// not declared here.
type ErrorResponse struct {
	Response  *http.Response `json:"-"`
	ErrorCode string         `json:"errorCode"`
	HTTPCode  int            `json:"error"`
	Reason    string         `json:"reason"`
	Detail    string         `json:"detail,omitempty"`

	// Not the client's: how the body failed to decode, when it did (the
	// client only logs this at debug level and keeps the body as Reason).
	decodeErr error
}

func (r *ErrorResponse) Error() string {
	s := fmt.Sprintf("%v %v: %d (request %q) %v",
		r.Response.Request.Method, r.Response.Request.URL, r.Response.StatusCode, r.ErrorCode, r.Detail)
	if r.decodeErr != nil {
		s += fmt.Sprintf(" [body not decodable as ErrorResponse: %v; reason holds the raw body: %q]", r.decodeErr, r.Reason)
	}
	return s
}

// LogListOptions are the query parameters of List and Get: ListOptions
// (pageNum, itemsPerPage, includeCount) embedded, plus verbose.
type LogListOptions struct {
	PageNum      int
	ItemsPerPage int
	IncludeCount bool
	Verbose      bool
}

// values encodes the options as go-querystring does with the client's
// `url:"name,omitempty"` tags: zero values are left out, true is "true".
func (o *LogListOptions) values() url.Values {
	v := url.Values{}
	if o.PageNum != 0 {
		v.Set("pageNum", strconv.Itoa(o.PageNum))
	}
	if o.ItemsPerPage != 0 {
		v.Set("itemsPerPage", strconv.Itoa(o.ItemsPerPage))
	}
	if o.IncludeCount {
		v.Set("includeCount", "true")
	}
	if o.Verbose {
		v.Set("verbose", "true")
	}
	return v
}

// ---------------------------------------------------------------------------
// The client: NewRequest, NewGZipRequest, Do, CheckResponse, setQueryParams

const logsBasePath = "api/public/v1.0/groups/%s/logCollectionJobs"

type client struct {
	http      *http.Client
	baseURL   *url.URL
	userAgent string
	// Every exchange, for error messages: method, URL, request body.
	lastSent string
}

func (c *client) newRequest(ctx context.Context, method, path string, body interface{}) (*http.Request, error) {
	if !strings.HasSuffix(c.baseURL.Path, "/") {
		c.baseURL.Path += "/"
	}
	rel, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	u := c.baseURL.ResolveReference(rel)
	var buf io.Reader
	sent := ""
	if body != nil {
		b := &bytes.Buffer{}
		enc := json.NewEncoder(b)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(body); err != nil {
			return nil, err
		}
		sent = strings.TrimSpace(b.String())
		buf = b
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), buf)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", c.userAgent)
	c.lastSent = fmt.Sprintf("%s %s %s", method, u.String(), sent)
	return req, nil
}

// newJSONRequest is the client's NewRequest.
func (c *client) newJSONRequest(ctx context.Context, method, path string, body interface{}) (*http.Request, error) {
	req, err := c.newRequest(ctx, method, path, body)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Add("Accept", "application/json")
	return req, nil
}

// newGZipRequest is the client's NewGZipRequest.
func (c *client) newGZipRequest(ctx context.Context, method, path string) (*http.Request, error) {
	req, err := c.newRequest(ctx, method, path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Add("Accept", "application/gzip")
	return req, nil
}

func checkResponse(resp *http.Response) error {
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return nil
	}
	e := &ErrorResponse{Response: resp}
	data, err := io.ReadAll(resp.Body)
	if err == nil && len(data) > 0 {
		if err := json.Unmarshal(data, e); err != nil {
			e.decodeErr = err
			e.Reason = string(data)
		}
	}
	return e
}

// do is the client's Do: v nil (body not read), an io.Writer (body copied)
// or a pointer to decode the JSON body into.
func (c *client) do(req *http.Request, v interface{}) (*http.Response, error) {
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if err := checkResponse(resp); err != nil {
		return resp, err
	}
	if v == nil {
		return resp, nil
	}
	if w, ok := v.(io.Writer); ok {
		_, _ = io.Copy(w, resp.Body)
		return resp, nil
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil && !errors.Is(err, io.EOF) {
		return resp, err
	}
	return resp, nil
}

// setQueryParams merges opts into the query of path.
func setQueryParams(path string, opts *LogListOptions) (string, error) {
	if opts == nil {
		return path, nil
	}
	u, err := url.Parse(path)
	if err != nil {
		return path, err
	}
	q := u.Query()
	for k, v := range opts.values() {
		q[k] = v
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// ---------------------------------------------------------------------------
// The calls of LogCollectionService and LogsService

func (c *client) List(ctx context.Context, groupID string, opts *LogListOptions) (*LogCollectionJobs, *http.Response, error) {
	path, err := setQueryParams(fmt.Sprintf(logsBasePath, groupID), opts)
	if err != nil {
		return nil, nil, err
	}
	req, err := c.newJSONRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, nil, err
	}
	root := new(LogCollectionJobs)
	resp, err := c.do(req, root)
	return root, resp, err
}

func (c *client) Get(ctx context.Context, groupID, jobID string, opts *LogListOptions) (*LogCollectionJob, *http.Response, error) {
	path, err := setQueryParams(fmt.Sprintf(logsBasePath+"/%s", groupID, jobID), opts)
	if err != nil {
		return nil, nil, err
	}
	req, err := c.newJSONRequest(ctx, http.MethodGet, path, nil)
	if err != nil {
		return nil, nil, err
	}
	root := new(LogCollectionJob)
	resp, err := c.do(req, root)
	return root, resp, err
}

func (c *client) Create(ctx context.Context, groupID string, job *LogCollectionJob) (*LogCollectionJob, *http.Response, error) {
	req, err := c.newJSONRequest(ctx, http.MethodPost, fmt.Sprintf(logsBasePath, groupID), job)
	if err != nil {
		return nil, nil, err
	}
	root := new(LogCollectionJob)
	resp, err := c.do(req, root)
	return root, resp, err
}

func (c *client) Extend(ctx context.Context, groupID, jobID string, job *LogCollectionJob) (*http.Response, error) {
	req, err := c.newJSONRequest(ctx, http.MethodPatch, fmt.Sprintf(logsBasePath+"/%s", groupID, jobID), job)
	if err != nil {
		return nil, err
	}
	return c.do(req, nil)
}

func (c *client) Retry(ctx context.Context, groupID, jobID string) (*http.Response, error) {
	req, err := c.newJSONRequest(ctx, http.MethodPut, fmt.Sprintf(logsBasePath+"/%s/retry", groupID, jobID), nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, nil)
}

func (c *client) Delete(ctx context.Context, groupID, jobID string) (*http.Response, error) {
	req, err := c.newJSONRequest(ctx, http.MethodDelete, fmt.Sprintf(logsBasePath+"/%s", groupID, jobID), nil)
	if err != nil {
		return nil, err
	}
	return c.do(req, nil)
}

func (c *client) Download(ctx context.Context, groupID, jobID string, out io.Writer) (*http.Response, error) {
	req, err := c.newGZipRequest(ctx, http.MethodGet, fmt.Sprintf(logsBasePath+"/%s/download", groupID, jobID))
	if err != nil {
		return nil, err
	}
	return c.do(req, out)
}

// ---------------------------------------------------------------------------
// The scenario

// scenario runs the calls and keeps the report. A call whose failure
// leaves nothing to check after it ends the program (fatal); any other
// unexpected answer is recorded as a problem and the scenario goes on, so
// that one run names every incompatibility.
type scenario struct {
	c        *client
	group    string
	report   map[string]interface{}
	problems []string
	warnings []string
}

func fatal(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "go_omclient: fatal: "+format+"\n", args...)
	os.Exit(1)
}

func (s *scenario) problem(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	s.problems = append(s.problems, msg)
	fmt.Fprintln(os.Stderr, "go_omclient: "+msg)
}

// warning records an answer to a call the client can make but that
// neither mongocli nor PRODUCT.md relies on (an option of the client's
// that the server refuses): reported, not a failure.
func (s *scenario) warning(format string, args ...interface{}) {
	msg := fmt.Sprintf(format, args...)
	s.warnings = append(s.warnings, msg)
	fmt.Fprintln(os.Stderr, "go_omclient: warning: "+msg)
}

// ok records a problem when a call that should succeed did not.
func (s *scenario) ok(what string, err error) bool {
	if err != nil {
		s.problem("%s failed: %v\n  request: %s", what, err, s.c.lastSent)
		return false
	}
	return true
}

// mustOK ends the program when a call that later steps need failed.
func (s *scenario) mustOK(what string, err error) {
	if err != nil {
		fatal("%s failed: %v\n  request: %s", what, err, s.c.lastSent)
	}
}

// refusal is an expected error answer, as the client decoded it.
type refusal struct {
	Status    int    `json:"status"`
	HTTPCode  int    `json:"error"`
	ErrorCode string `json:"errorCode"`
	Reason    string `json:"reason"`
	Detail    string `json:"detail"`
}

// expectRefusal records under key how the client decoded err, and a
// problem unless it is an ErrorResponse with the status and code that
// PRODUCT.md §11 gives.
func (s *scenario) expectRefusal(key, what string, err error, status int, code string) {
	if err == nil {
		s.problem("%s: expected %d %s, but the call succeeded\n  request: %s", what, status, code, s.c.lastSent)
		return
	}
	var e *ErrorResponse
	if !errors.As(err, &e) {
		s.problem("%s: expected an ErrorResponse %s, got: %v\n  request: %s", what, code, err, s.c.lastSent)
		return
	}
	s.report[key] = refusal{Status: e.Response.StatusCode, HTTPCode: e.HTTPCode, ErrorCode: e.ErrorCode, Reason: e.Reason, Detail: e.Detail}
	if e.decodeErr != nil || e.ErrorCode != code || e.Response.StatusCode != status || e.HTTPCode != status {
		s.problem("%s: expected HTTP %d with {\"error\": %d, \"errorCode\": %q}, the client decoded: %v (error=%d)\n  request: %s",
			what, status, status, code, e, e.HTTPCode, s.c.lastSent)
	}
}

// callCtx bounds one call.
func callCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 60*time.Second)
}

// retryCluster is a cluster that the test adds to the sample deployment,
// with a log that does not exist, so that its jobs fail.
const retryCluster = "goRetry"

var hexID = regexp.MustCompile(`^[0-9a-f]{24}$`)

// create posts job; the decoded answer, or nil (a problem recorded).
func (s *scenario) create(what string, job *LogCollectionJob) *LogCollectionJob {
	ctx, cancel := callCtx()
	defer cancel()
	created, resp, err := s.c.Create(ctx, s.group, job)
	if !s.ok(what, err) {
		return nil
	}
	if resp.StatusCode != http.StatusCreated || !hexID.MatchString(created.ID) {
		s.problem("%s answered %d; the decoded id %q is not 24 hex digits (expected 201 {\"id\": …})", what, resp.StatusCode, created.ID)
		return nil
	}
	return created
}

// get is Get with opts; nil (a problem recorded) on an error.
func (s *scenario) get(what, id string, opts *LogListOptions) *LogCollectionJob {
	ctx, cancel := callCtx()
	defer cancel()
	job, _, err := s.c.Get(ctx, s.group, id, opts)
	if !s.ok(what, err) {
		return nil
	}
	return job
}

// waitDone polls Get until the job is no longer IN_PROGRESS.
func (s *scenario) waitDone(id string) *LogCollectionJob {
	deadline := time.Now().Add(90 * time.Second)
	for {
		job := s.get("Get "+id, id, nil)
		if job == nil || job.Status != "IN_PROGRESS" {
			return job
		}
		if time.Now().After(deadline) {
			s.problem("job %s still IN_PROGRESS after 90 s", id)
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// extend is the usual way to call Extend: Get the job (verbose or not),
// change ExpirationDate, PATCH the whole struct.
func (s *scenario) extend(id string, verbose bool, to string) error {
	var opts *LogListOptions
	if verbose {
		opts = &LogListOptions{Verbose: true}
	}
	job := s.get("Get before Extend", id, opts)
	if job == nil {
		return errors.New("no job to extend")
	}
	job.ExpirationDate = to
	ctx, cancel := callCtx()
	defer cancel()
	_, err := s.c.Extend(ctx, s.group, id, job)
	return err
}

func boolPtr(b bool) *bool { return &b }

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: go_omclient BASE_URL GROUP_ID PUBLIC_KEY PRIVATE_KEY OUT_DIR")
		os.Exit(2)
	}
	base, group, public, private, outDir := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	baseURL, err := url.Parse(base)
	if err != nil {
		fatal("base URL %q: %v", base, err)
	}
	stats := &digestStats{Algorithms: map[string]int{}, Qops: map[string]int{}}
	transport := &digestTransport{Username: public, Password: private, Transport: http.DefaultTransport, stats: stats}
	s := &scenario{
		c:      &client{http: &http.Client{Transport: transport}, baseURL: baseURL, userAgent: "go-ops-manager"},
		group:  group,
		report: map[string]interface{}{},
	}
	report := s.report
	jobs := 0

	// Create, with the struct filled as mongocli's `om logs jobs collect`
	// fills it (Redacted always set, the dates left out when zero).
	created := s.create("Create", &LogCollectionJob{
		ResourceType:              "CLUSTER",
		ResourceName:              "sampleCluster",
		Redacted:                  boolPtr(false),
		LogTypes:                  []string{"MONGODB", "AUTOMATION_AGENT"},
		SizeRequestedPerFileBytes: 10000000,
	})
	if created == nil {
		fatal("nothing to go on without a job")
	}
	jobs++
	report["create"] = map[string]interface{}{"status": http.StatusCreated, "id": created.ID}

	// A time range, sent as the client declares it: int64 epoch ms.
	from := time.Date(2024, 3, 18, 0, 0, 0, 0, time.UTC).UnixMilli()
	to := time.Date(2024, 3, 19, 0, 0, 0, 0, time.UTC).UnixMilli()
	report["datedSent"] = map[string]int64{"logCollectionFromDate": from, "logCollectionToDate": to}
	dated := s.create("Create with logCollectionFromDate/logCollectionToDate (int64 epoch ms)", &LogCollectionJob{
		ResourceType:              "CLUSTER",
		ResourceName:              "sampleCluster",
		Redacted:                  boolPtr(false),
		LogTypes:                  []string{"MONGODB"},
		SizeRequestedPerFileBytes: 10000000,
		LogCollectionFromDate:     from,
		LogCollectionToDate:       to,
	})
	if dated != nil {
		jobs++
	}

	// mongocli lower-cases its resource type argument before sending it.
	lower := s.create("Create with a lower-case resourceType (as mongocli sends it)", &LogCollectionJob{
		ResourceType:              "replicaset",
		ResourceName:              "rs0",
		Redacted:                  boolPtr(true),
		LogTypes:                  []string{"MONGODB"},
		SizeRequestedPerFileBytes: 1000000,
	})
	if lower != nil {
		jobs++
	}

	// A job that fails: the test's deployment has a cluster retryCluster
	// one of whose logs is missing.
	failing := s.create("Create (a job that fails)", &LogCollectionJob{
		ResourceType:              "CLUSTER",
		ResourceName:              retryCluster,
		Redacted:                  boolPtr(false),
		LogTypes:                  []string{"MONGODB"},
		SizeRequestedPerFileBytes: 10000000,
	})
	if failing != nil {
		jobs++
	}

	// Get, polled until done; then verbose.
	job := s.waitDone(created.ID)
	if job == nil {
		fatal("cannot read job %s back", created.ID)
	}
	report["job"] = job
	if job.Status != "SUCCESS" || job.ID != created.ID || job.GroupID != group {
		s.problem("job %s ended as %+v, expected SUCCESS in group %s", created.ID, job, group)
	}
	if verbose := s.get("Get verbose", created.ID, &LogListOptions{Verbose: true}); verbose != nil {
		report["jobVerbose"] = verbose
		if len(verbose.ChildJobs) == 0 {
			s.problem("Get ?verbose=true decoded no childJobs for %s", created.ID)
		}
	}
	if dated != nil {
		if got := s.waitDone(dated.ID); got != nil {
			report["datedJob"] = got
			if got.LogCollectionFromDate != from || got.LogCollectionToDate != to {
				s.problem("job %s: sent logCollectionFromDate=%d logCollectionToDate=%d (int64 epoch ms), Get decoded %d and %d",
					dated.ID, from, to, got.LogCollectionFromDate, got.LogCollectionToDate)
			}
		}
	}
	if lower != nil {
		if got := s.waitDone(lower.ID); got != nil {
			report["mongocliJob"] = got
		}
	}

	// Retry of a FAILURE job: accepted; it runs again (and fails again).
	if failing != nil {
		if got := s.waitDone(failing.ID); got != nil {
			report["failedJob"] = map[string]interface{}{"id": got.ID, "status": got.Status}
			if got.Status != "FAILURE" {
				s.problem("job %s on %s ended %s, expected FAILURE", got.ID, retryCluster, got.Status)
			} else {
				ctx, cancel := callCtx()
				resp, err := s.c.Retry(ctx, group, failing.ID)
				cancel()
				if s.ok("Retry of a FAILURE job", err) {
					retried := s.waitDone(failing.ID)
					status := ""
					if retried != nil {
						status = retried.Status
					}
					report["retryFailure"] = map[string]interface{}{"status": resp.StatusCode, "then": status}
				}
			}
		}
	}

	// Get with the paging options: Ops Manager documents pageNum and
	// itemsPerPage for "Get One Log Collection Job" and the client's Get
	// takes the same LogListOptions as List.
	ctx, cancel := callCtx()
	_, _, err = s.c.Get(ctx, group, created.ID, &LogListOptions{PageNum: 1, ItemsPerPage: 100, Verbose: true})
	cancel()
	if err != nil {
		s.warning("Get with pageNum/itemsPerPage (documented by Ops Manager for this route) failed: %v\n  request: %s", err, s.c.lastSent)
	}

	// List: as mongocli calls it (no options, or verbose), paged, and with
	// includeCount (part of the client's ListOptions).
	lists := map[string]interface{}{}
	for _, l := range []struct {
		name string
		opts *LogListOptions
	}{
		{"plain", nil},
		{"verbose", &LogListOptions{Verbose: true}},
		{"paged", &LogListOptions{PageNum: 2, ItemsPerPage: 1}},
	} {
		ctx, cancel := callCtx()
		page, _, err := s.c.List(ctx, group, l.opts)
		cancel()
		if !s.ok("List "+l.name, err) {
			continue
		}
		ids, dates, rels := []string{}, []string{}, []string{}
		for _, r := range page.Results {
			ids = append(ids, r.ID)
			dates = append(dates, r.CreationDate)
		}
		for _, k := range page.Links {
			rels = append(rels, k.Rel)
		}
		sort.Strings(rels)
		lists[l.name] = map[string]interface{}{"totalCount": page.TotalCount, "ids": ids, "creationDates": dates, "links": rels}
		if page.TotalCount != jobs {
			s.problem("List %s decoded totalCount %d, expected the %d jobs created", l.name, page.TotalCount, jobs)
		}
	}
	report["list"] = lists
	ctx, cancel = callCtx()
	_, _, err = s.c.List(ctx, group, &LogListOptions{IncludeCount: true})
	cancel()
	if err != nil {
		s.warning("List with includeCount (a field of the client's ListOptions) failed: %v\n  request: %s", err, s.c.lastSent)
	}

	// Download to a file.
	archive := filepath.Join(outDir, created.ID+".tar.gz")
	f, err := os.Create(archive)
	if err != nil {
		fatal("%s: %v", archive, err)
	}
	ctx, cancel = callCtx()
	resp, err := s.c.Download(ctx, group, created.ID, f)
	cancel()
	if err := f.Close(); err != nil {
		fatal("%s: %v", archive, err)
	}
	if s.ok("Download", err) {
		data, err := os.ReadFile(archive)
		if err != nil {
			fatal("%s: %v", archive, err)
		}
		report["download"] = map[string]interface{}{
			"path":            archive,
			"bytes":           len(data),
			"contentType":     resp.Header.Get("Content-Type"),
			"contentEncoding": resp.Header.Get("Content-Encoding"),
			"contentLength":   resp.ContentLength,
		}
		if len(data) < 2 || data[0] != 0x1f || data[1] != 0x8b {
			s.problem("Download wrote %d bytes that are not gzip (Content-Type %q, Content-Encoding %q)",
				len(data), resp.Header.Get("Content-Type"), resp.Header.Get("Content-Encoding"))
		}
	}

	// A job that does not exist.
	ctx, cancel = callCtx()
	_, _, err = s.c.Get(ctx, group, "0123456789abcdef01234567", nil)
	cancel()
	s.expectRefusal("missing", "Get of a missing job", err, 404, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP")

	// Extend: the whole job from Get, with a new expirationDate.
	until := time.Now().UTC().Add(10 * 24 * time.Hour).Truncate(time.Second).Format(time.RFC3339)
	if s.ok("Extend", s.extend(created.ID, false, until)) {
		if got := s.get("Get after Extend", created.ID, nil); got != nil {
			report["extend"] = map[string]interface{}{"sent": until, "expirationDate": got.ExpirationDate}
			want, _ := time.Parse(time.RFC3339, until)
			if at, err := time.Parse(time.RFC3339, got.ExpirationDate); err != nil || !at.Equal(want) {
				s.problem("Extend to %s succeeded, but Get then decoded expirationDate %q", until, got.ExpirationDate)
			}
		}
	}
	// The whole verbose job goes back too: childJobs, and for the dated
	// job the int64 dates.
	verboseID := created.ID
	if dated != nil {
		verboseID = dated.ID
	}
	s.ok("Extend with the body of a verbose Get", s.extend(verboseID, true, until))
	s.expectRefusal("extendTooFar", "Extend to 2099", s.extend(created.ID, false, "2099-01-01T00:00:00Z"),
		400, "EXPIRATION_DATE_TOO_DISTANT")

	// Retry of a SUCCESS job.
	ctx, cancel = callCtx()
	_, err = s.c.Retry(ctx, group, created.ID)
	cancel()
	s.expectRefusal("retrySuccess", "Retry of a SUCCESS job", err, 400, "ONLY_FAILED_JOB_CAN_BE_RESTARTED")

	// Delete, then the job is gone.
	ctx, cancel = callCtx()
	resp, err = s.c.Delete(ctx, group, created.ID)
	cancel()
	if s.ok("Delete", err) {
		report["delete"] = map[string]interface{}{"ok": true, "status": resp.StatusCode}
	}
	ctx, cancel = callCtx()
	_, _, err = s.c.Get(ctx, group, created.ID, nil)
	cancel()
	s.expectRefusal("afterDelete", "Get after Delete", err, 404, "LOG_COLLECTION_JOB_NOT_FOUND_IN_GROUP")

	stats.mu.Lock()
	report["digest"] = stats
	report["problems"] = append([]string{}, s.problems...)
	report["warnings"] = append([]string{}, s.warnings...)
	out, err := json.MarshalIndent(report, "", "  ")
	stats.mu.Unlock()
	if err != nil {
		fatal("report: %v", err)
	}
	os.Stdout.Write(append(out, '\n'))
	if len(s.problems) > 0 {
		fmt.Fprintf(os.Stderr, "go_omclient: %d answer(s) the Ops Manager Go client would not accept or that break PRODUCT.md\n", len(s.problems))
		os.Exit(1)
	}
}
