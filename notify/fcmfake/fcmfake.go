// Package fcmfake is a local stand-in for the FCM HTTP v1 API, for tests and
// benchmarks that drive the real firebase SDK (pointed at it with
// option.WithEndpoint(URL + "/v1") and no Google auth). It answers
// POST /v1/projects/{project}/messages:send like FCM does, records every
// request, and can be told to fail for given tokens the way FCM fails:
// UNREGISTERED, INVALID_ARGUMENT, QUOTA_EXCEEDED with Retry-After,
// UNAVAILABLE, INTERNAL.
package fcmfake

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Message is one accepted send as the server saw it.
type Message struct {
	Token        string            `json:"token"`
	Data         map[string]string `json:"data"`
	Notification struct {
		Title string `json:"title"`
		Body  string `json:"body"`
	} `json:"notification"`
	Android struct {
		CollapseKey string `json:"collapse_key"`
		Priority    string `json:"priority"`
		TTL         string `json:"ttl"`
	} `json:"android"`
	APNS struct {
		Headers map[string]string `json:"headers"`
	} `json:"apns"`
	Webpush struct {
		Headers map[string]string `json:"headers"`
	} `json:"webpush"`
	// ReceivedAt is the server's wall-clock time of the request.
	ReceivedAt time.Time `json:"-"`
	// Project is the project in the request path.
	Project string `json:"-"`
}

// Failure is a scripted FCM error answer.
type Failure struct {
	// Status is the HTTP status (404, 400, 429, 500, 503, ...).
	Status int
	// Code is the FcmError errorCode: UNREGISTERED, INVALID_ARGUMENT,
	// QUOTA_EXCEEDED, UNAVAILABLE, INTERNAL, SENDER_ID_MISMATCH, ...
	Code string
	// RetryAfter, when set, is sent as the Retry-After header (seconds or an HTTP date).
	RetryAfter string
	// Message is the error message; a default naming the code when empty.
	Message string
}

// Common failures, shaped like FCM's answers.
var (
	Unregistered = Failure{Status: 404, Code: "UNREGISTERED", Message: "Requested entity was not found."}
	InvalidToken = Failure{Status: 400, Code: "INVALID_ARGUMENT", Message: "The registration token is not a valid FCM registration token"}
	Unavailable  = Failure{Status: 503, Code: "UNAVAILABLE", Message: "The service is currently unavailable."}
	Internal     = Failure{Status: 500, Code: "INTERNAL", Message: "Internal error encountered."}
)

// QuotaExceeded is a 429 asking the sender to wait retryAfter seconds.
func QuotaExceeded(retryAfter int) Failure {
	return Failure{Status: 429, Code: "QUOTA_EXCEEDED", RetryAfter: strconv.Itoa(retryAfter),
		Message: "Quota exceeded for quota metric 'Send requests'."}
}

var statusNames = map[int]string{
	400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
	429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE",
}

// Server is a running fake FCM endpoint.
type Server struct {
	// URL is the base URL; give the SDK URL + "/v1".
	URL string

	srv       *httptest.Server
	mu        sync.Mutex
	messages  []Message
	attempts  map[string]int // by token, every request including failures
	permanent map[string]Failure
	scripted  map[string][]Failure
	all       []Failure // scripted failures for any token, consumed first
	delay     time.Duration
	seq       int
}

// New starts a fake FCM server on a local port. Close it when done.
func New() *Server {
	s := &Server{attempts: map[string]int{}, permanent: map[string]Failure{}, scripted: map[string][]Failure{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Endpoint is what CLAVIS_FCM_ENDPOINT should be set to.
func (s *Server) Endpoint() string { return s.URL }

// FailAlways makes every send to token fail with f (for example Unregistered).
func (s *Server) FailAlways(token string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.permanent[token] = f
}

// FailNext makes the next sends to token fail with fs, in order; later sends succeed.
func (s *Server) FailNext(token string, fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.scripted[token] = append(s.scripted[token], fs...)
}

// FailAnyNext makes the next len(fs) requests fail, whatever their token.
func (s *Server) FailAnyNext(fs ...Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.all = append(s.all, fs...)
}

// SetDelay makes every answer wait d (a slow FCM).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Messages returns a copy of every accepted message, in arrival order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.messages...)
}

// Accepted is the number of accepted messages.
func (s *Server) Accepted() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.messages)
}

// Attempts is how many requests named token, failed ones included.
func (s *Server) Attempts(token string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts[token]
}

// CountBy counts accepted messages by the value of one data key (for
// example "push_id"), to check each push arrived exactly once.
func (s *Server) CountBy(dataKey string) map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for _, m := range s.messages {
		out[m.Data[dataKey]]++
	}
	return out
}

// Reset forgets recorded messages and attempts (scripts stay).
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = nil
	s.attempts = map[string]int{}
}

type sendRequest struct {
	ValidateOnly bool     `json:"validate_only"`
	Message      *Message `json:"message"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	// /v1/projects/{project}/messages:send
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/projects/")
	project, tail, _ := strings.Cut(rest, "/")
	if !ok || r.Method != http.MethodPost || tail != "messages:send" || project == "" {
		writeError(w, Failure{Status: 404, Code: "", Message: "unknown path " + r.URL.Path})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, Failure{Status: 400, Message: "unreadable body"})
		return
	}
	var req sendRequest
	if err := json.Unmarshal(body, &req); err != nil || req.Message == nil {
		writeError(w, Failure{Status: 400, Code: "INVALID_ARGUMENT", Message: "Invalid JSON payload received."})
		return
	}
	m := req.Message
	if m.Token == "" {
		writeError(w, Failure{Status: 400, Code: "INVALID_ARGUMENT", Message: "Exactly one of token, topic or condition must be set."})
		return
	}
	m.ReceivedAt = time.Now()
	m.Project = project

	s.mu.Lock()
	s.attempts[m.Token]++
	delay := s.delay
	var fail *Failure
	if len(s.all) > 0 {
		f := s.all[0]
		s.all = s.all[1:]
		fail = &f
	} else if q := s.scripted[m.Token]; len(q) > 0 {
		f := q[0]
		s.scripted[m.Token] = q[1:]
		fail = &f
	} else if f, ok := s.permanent[m.Token]; ok {
		fail = &f
	}
	if fail == nil && !req.ValidateOnly {
		s.seq++
		s.messages = append(s.messages, *m)
	}
	seq := s.seq
	s.mu.Unlock()

	if delay > 0 {
		time.Sleep(delay)
	}
	if fail != nil {
		writeError(w, *fail)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = fmt.Fprintf(w, `{"name":"projects/%s/messages/%d"}`, project, seq)
}

func writeError(w http.ResponseWriter, f Failure) {
	status := statusNames[f.Status]
	if status == "" {
		status = "UNKNOWN"
	}
	msg := f.Message
	if msg == "" {
		msg = "fake FCM error " + f.Code
	}
	e := map[string]any{"code": f.Status, "message": msg, "status": status}
	if f.Code != "" {
		e["details"] = []map[string]string{{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError", "errorCode": f.Code}}
	}
	if f.RetryAfter != "" {
		w.Header().Set("Retry-After", f.RetryAfter)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": e})
}
