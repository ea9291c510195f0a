package notify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	firebase "firebase.google.com/go/v4"
	"firebase.google.com/go/v4/errorutils"
	"firebase.google.com/go/v4/messaging"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"google.golang.org/api/option"
)

// Message is one push to one device.
type Message struct {
	Token       string
	RecipientID string
	Type        string
	OutingID    string
	// PushID is the job's id: the same push always carries the same id, so
	// the app can drop a duplicate.
	PushID      string
	Title, Body string
	// Deadline is when the push stops being useful; FCM keeps it no longer.
	Deadline time.Time
}

// Verdict is what to do after one send.
type Verdict int

// Verdicts.
const (
	Delivered Verdict = iota
	// Prune: the token is dead (unregistered or invalid); forget it, never retry.
	Prune
	// Retry later: FCM is overloaded or unavailable.
	Retry
	// GiveUp: a retry would fail the same way; record it.
	GiveUp
)

// Result is the outcome of one message.
type Result struct {
	Verdict Verdict
	// Reason names the FCM error class (a metric label).
	Reason string
	// RetryAfter is the wait FCM asked for, if any.
	RetryAfter time.Duration
	Err        error
}

// Sender sends pushes. FCMSender talks to FCM through the firebase SDK;
// LogSender only logs, for running without FCM.
type Sender interface {
	// Send sends msgs and returns one result per message, in order.
	Send(ctx context.Context, now time.Time, msgs []Message) []Result
}

// FCMConfig says which FCM to use.
type FCMConfig struct {
	// Endpoint (CLAVIS_FCM_ENDPOINT) is the base URL of an FCM emulator or
	// fake; requests go to Endpoint + "/v1" without Google auth.
	Endpoint string
	// ProjectID (CLAVIS_FCM_PROJECT_ID); with real FCM the credentials'
	// project when empty.
	ProjectID string
	// CredentialsFile (GOOGLE_APPLICATION_CREDENTIALS) is a service account
	// key file; with it, pushes go to real FCM.
	CredentialsFile string
}

// FCMSender sends through the firebase SDK's messaging client.
type FCMSender struct {
	client *messaging.Client
}

const messagingScope = "https://www.googleapis.com/auth/firebase.messaging"

// NewFCMSender builds the SDK client for cfg.
func NewFCMSender(ctx context.Context, cfg FCMConfig) (*FCMSender, error) {
	base := http.DefaultTransport.(*http.Transport).Clone()
	// SendEach runs 50 requests at once; keep their connections alive.
	base.MaxIdleConnsPerHost = 100
	base.MaxIdleConns = 200
	var opts []option.ClientOption
	project := cfg.ProjectID
	switch {
	case cfg.Endpoint != "":
		if project == "" {
			project = "clavis-local"
		}
		opts = append(opts,
			option.WithEndpoint(strings.TrimRight(cfg.Endpoint, "/")+"/v1"),
			option.WithoutAuthentication(),
			option.WithHTTPClient(&http.Client{Transport: noBlindRetry{base}, Timeout: 30 * time.Second}))
	case cfg.CredentialsFile != "":
		raw, err := os.ReadFile(cfg.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("google credentials: %w", err)
		}
		creds, err := google.CredentialsFromJSONWithType(ctx, raw, google.ServiceAccount, messagingScope)
		if err != nil {
			return nil, fmt.Errorf("google credentials in %s: %w", cfg.CredentialsFile, err)
		}
		if project == "" {
			project = creds.ProjectID
		}
		if project == "" {
			return nil, errors.New("no FCM project: set CLAVIS_FCM_PROJECT_ID")
		}
		authed := &oauth2.Transport{Source: creds.TokenSource, Base: base}
		opts = append(opts, option.WithHTTPClient(&http.Client{Transport: noBlindRetry{authed}, Timeout: 30 * time.Second}))
	default:
		return nil, errors.New("FCM needs an endpoint or Google credentials")
	}
	app, err := firebase.NewApp(ctx, &firebase.Config{ProjectID: project}, opts...)
	if err != nil {
		return nil, fmt.Errorf("firebase app: %w", err)
	}
	client, err := app.Messaging(ctx)
	if err != nil {
		return nil, fmt.Errorf("firebase messaging: %w", err)
	}
	return &FCMSender{client: client}, nil
}

// noBlindRetry stops the SDK from retrying on its own: on a 503 or a
// network error it would sleep (0, 1, 2, 4 s) inside SendEach, holding a
// worker, unseen by our backoff, metrics and clock. A 503 is passed on as a
// 500 whose body still says UNAVAILABLE, and a network error as a made-up
// 500 UNAVAILABLE answer marked with networkErrorHeader, so classification
// is unchanged and the job's own backoff (durable, with jitter) retries.
type noBlindRetry struct{ base http.RoundTripper }

const (
	originalStatusHeader = "X-Clavis-Upstream-Status"
	networkErrorHeader   = "X-Clavis-Network-Error"
)

func (t noBlindRetry) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(r)
	if err != nil {
		if r.Context().Err() != nil {
			return nil, err
		}
		body, _ := json.Marshal(map[string]any{"error": map[string]any{
			"code": 503, "status": "UNAVAILABLE", "message": "no answer from FCM: " + err.Error()}})
		return &http.Response{
			StatusCode: http.StatusInternalServerError, Status: "500 no answer from FCM",
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Request: r,
			Header:        http.Header{"Content-Type": {"application/json"}, networkErrorHeader: {"1"}},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}, nil
	}
	if resp.StatusCode == http.StatusServiceUnavailable {
		resp.Header.Set(originalStatusHeader, strconv.Itoa(resp.StatusCode))
		resp.StatusCode = http.StatusInternalServerError
		resp.Status = "500 Internal Server Error (upstream 503)"
	}
	return resp, nil
}

// fcmMaxTTL is FCM's longest time to live.
const fcmMaxTTL = 28 * 24 * time.Hour

// Send sends msgs in SendEach calls of at most 500 messages.
func (s *FCMSender) Send(ctx context.Context, now time.Time, msgs []Message) []Result {
	out := make([]Result, len(msgs))
	fm := make([]*messaging.Message, 0, min(len(msgs), maxBatch))
	for start := 0; start < len(msgs); start += maxBatch {
		end := min(start+maxBatch, len(msgs))
		fm = fm[:0]
		for _, m := range msgs[start:end] {
			fm = append(fm, fcmMessage(m, now))
		}
		br, err := s.client.SendEach(ctx, fm)
		if err != nil {
			// The whole call failed before sending (a message the SDK
			// rejects, or a cancelled context).
			r := Result{Verdict: GiveUp, Reason: "invalid_message", Err: err}
			if ctx.Err() != nil {
				r = Result{Verdict: Retry, Reason: "cancelled", Err: err}
			}
			for i := start; i < end; i++ {
				out[i] = r
			}
			continue
		}
		for i, r := range br.Responses {
			if r.Success {
				out[start+i] = Result{Verdict: Delivered}
				continue
			}
			out[start+i] = classify(ctx, r.Error)
		}
	}
	return out
}

// collapseKey is short and stable per outing and push type: it fits APNs'
// 64-byte apns-collapse-id and Web Push's 32-character Topic.
func collapseKey(outingID, pushType string) string {
	sum := sha256.Sum256([]byte(outingID + "|" + pushType))
	return hex.EncodeToString(sum[:16])
}

func fcmMessage(m Message, now time.Time) *messaging.Message {
	ttl := m.Deadline.Sub(now)
	ttl = max(0, min(ttl, fcmMaxTTL)).Truncate(time.Second)
	ck := collapseKey(m.OutingID, m.Type)
	msg := &messaging.Message{
		Token:        m.Token,
		Data:         map[string]string{"type": m.Type, "outing_id": m.OutingID, "push_id": m.PushID},
		Notification: &messaging.Notification{Title: m.Title, Body: m.Body},
		Android:      &messaging.AndroidConfig{CollapseKey: ck, Priority: "high", TTL: &ttl},
		APNS: &messaging.APNSConfig{
			Headers: map[string]string{
				"apns-collapse-id": ck,
				"apns-expiration":  strconv.FormatInt(now.Add(ttl).Unix(), 10),
				"apns-priority":    "10",
				"apns-push-type":   "alert",
			},
			Payload: &messaging.APNSPayload{Aps: &messaging.Aps{Sound: "default"}},
		},
		Webpush: &messaging.WebpushConfig{Headers: map[string]string{
			"TTL": strconv.FormatInt(int64(ttl/time.Second), 10), "Urgency": "high", "Topic": ck,
		}},
	}
	if urgent(m.Type) {
		urgentMessage(msg)
	}
	return msg
}

// classify turns one FCM error into a verdict:
// UNREGISTERED or an invalid token → prune; QUOTA_EXCEEDED/429 → retry no
// sooner than Retry-After; UNAVAILABLE/INTERNAL/5xx or no answer at all →
// retry with backoff; anything else → give up.
func classify(ctx context.Context, err error) Result {
	ra := retryAfter(err)
	status := 0
	if resp := errorutils.HTTPResponse(err); resp != nil {
		status = resp.StatusCode
		if s, e := strconv.Atoi(resp.Header.Get(originalStatusHeader)); e == nil {
			status = s
		}
		if resp.Header.Get(networkErrorHeader) != "" {
			status = 0
		}
	}
	r := func(v Verdict, reason string) Result {
		return Result{Verdict: v, Reason: reason, RetryAfter: ra, Err: err}
	}
	switch {
	case status == 0 && ctx.Err() != nil:
		return r(Retry, "cancelled")
	case status == 0 && isNetwork(err):
		return r(Retry, "network")
	case messaging.IsUnregistered(err):
		return r(Prune, "unregistered")
	case messaging.IsInvalidArgument(err) && mentionsToken(err):
		return r(Prune, "invalid_token")
	case messaging.IsQuotaExceeded(err) || status == http.StatusTooManyRequests || errorutils.IsResourceExhausted(err):
		return r(Retry, "quota_exceeded")
	case messaging.IsUnavailable(err) || status == http.StatusServiceUnavailable:
		return r(Retry, "unavailable")
	case messaging.IsInternal(err) || status >= 500:
		return r(Retry, "internal")
	case messaging.IsSenderIDMismatch(err):
		return r(GiveUp, "sender_id_mismatch")
	case messaging.IsThirdPartyAuthError(err):
		return r(GiveUp, "third_party_auth")
	case messaging.IsInvalidArgument(err) || errorutils.IsInvalidArgument(err):
		return r(GiveUp, "invalid_argument")
	case errorutils.IsUnauthenticated(err) || errorutils.IsPermissionDenied(err):
		return r(GiveUp, "not_authorised")
	default:
		return r(GiveUp, "other")
	}
}

// isNetwork: the request got no HTTP answer (refused, reset, timed out).
func isNetwork(err error) bool {
	if resp := errorutils.HTTPResponse(err); resp != nil {
		return resp.Header.Get(networkErrorHeader) != ""
	}
	var ne net.Error
	return errorutils.IsUnavailable(err) || errorutils.IsDeadlineExceeded(err) || errorutils.IsUnknown(err) || errors.As(err, &ne)
}

// mentionsToken tells an invalid registration token apart from an invalid
// message: both are INVALID_ARGUMENT, but only the first may prune a device.
func mentionsToken(err error) bool {
	msg := strings.ToLower(err.Error())
	return strings.Contains(msg, "registration token") || strings.Contains(msg, "registration-token")
}

// retryAfter reads Retry-After (seconds or an HTTP date) from an FCM answer.
func retryAfter(err error) time.Duration {
	resp := errorutils.HTTPResponse(err)
	if resp == nil {
		return 0
	}
	v := strings.TrimSpace(resp.Header.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs > 0 {
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, time.Until(t))
	}
	return 0
}

// LogSender stands in for FCM when none is configured: it logs the push
// type and the recipient's id, nothing else, and reports success.
type LogSender struct {
	Log *slog.Logger
}

// Send logs each push once per recipient.
func (l LogSender) Send(_ context.Context, _ time.Time, msgs []Message) []Result {
	log := l.Log
	if log == nil {
		log = slog.Default()
	}
	seen := map[string]bool{}
	out := make([]Result, len(msgs))
	for i, m := range msgs {
		key := m.PushID + "|" + m.RecipientID
		if !seen[key] {
			seen[key] = true
			log.Info("push not sent: no FCM configured", "type", m.Type, "recipient_id", m.RecipientID)
		}
		out[i] = Result{Verdict: Delivered}
	}
	return out
}
