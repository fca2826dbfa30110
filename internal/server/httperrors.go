package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/arrears/arrears/internal/auth"
	"github.com/arrears/arrears/internal/jsonenc"
	"github.com/arrears/arrears/internal/metrics"
	"github.com/arrears/arrears/internal/protojsonerr"
)

// Patterns in the JSON decoder's and query parser's messages that name the
// offending field, so that a malformed body gets the same BadRequest
// details as any other invalid request.
var fieldInMessage = []*regexp.Regexp{
	regexp.MustCompile(`unknown field "([^"]+)"`),
	regexp.MustCompile(`invalid value for [a-z0-9]+ field ([A-Za-z0-9_]+)`),
	regexp.MustCompile(`invalid value for enum field ([A-Za-z0-9_]+)`),
	regexp.MustCompile(`(?:parsing|for) (?:field|parameter) "?([A-Za-z0-9_.]+)"?`),
	regexp.MustCompile(`\bfield "?([A-Za-z0-9_.]+)"?`),
}

// errorHandler renders gRPC errors as the gateway does (HTTP status from the
// code, body {code, message, details}), but first gives the gateway's own
// InvalidArgument errors — malformed JSON, unknown fields or enum values,
// bad query parameters — a google.rpc.BadRequest naming the field, and
// answers an oversized body with 413.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	st, ok := status.FromError(err)
	var tooLarge *http.MaxBytesError
	body, _ := r.Context().Value(bodyLimitKey{}).(*bodyState)
	if errors.As(err, &tooLarge) || (body != nil && body.hit) {
		// The generated handler flattens the MaxBytesError into an
		// InvalidArgument with its text, which a client's own text could
		// imitate: the body's reader says whether the limit was reached.
		writeTooLarge(w)
		return
	}
	if body != nil && body.late {
		// Cut by the read deadline limitBody set: 408, in the gateway's
		// shape, without the connection's addresses.
		writeStatus(w, http.StatusRequestTimeout, `{"code":4,"message":"the request body did not arrive within the call's time limit","details":[]}`)
		return
	}
	if ok && st.Code() == codes.InvalidArgument && len(st.Details()) == 0 {
		field, msg := "body", st.Message()
		if r.Method == http.MethodGet || r.Method == http.MethodDelete {
			field = "query"
		}
		for _, re := range fieldInMessage {
			if m := re.FindStringSubmatch(msg); m != nil {
				field = m[1]
				break
			}
		}
		// The whole path and plain words, where the request shows them.
		if m := badField.FindStringSubmatch(msg); m != nil {
			field, _ = strconv.Unquote(m[1])
			msg = m[2]
			if sel := bodySelector[runtimeMethod(ctx)]; sel != "" {
				// The body is that field of the request.
				field = sel + "." + field
			}
		} else if leaf, bad, text, isQuery := plainQueryError(msg); isQuery {
			field, msg = leaf, text
			if path, found := queryFieldPath(r.URL.Query(), jsonenc.FieldName(leaf), bad); found {
				field = path
			}
		} else {
			msg = protojsonerr.Plain(msg)
		}
		err = withViolation(status.New(codes.InvalidArgument, "invalid request: "+field+": "+msg), field, msg).Err()
	}
	if ok && st.Code() == codes.ResourceExhausted {
		setRetryAfter(w, st)
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

// setRetryAfter says over HTTP how long a refusal's google.rpc.RetryInfo
// asks a client to wait.
func setRetryAfter(w http.ResponseWriter, st *status.Status) {
	for _, d := range st.Details() {
		if ri, isRetry := d.(*errdetails.RetryInfo); isRetry {
			w.Header().Set("Retry-After", strconv.Itoa(int(ri.GetRetryDelay().AsDuration().Seconds())))
		}
	}
}

// limitBody caps request bodies; the gateway's read then fails with a
// MaxBytesError, which errorHandler answers with 413.
func limitBody(h http.Handler, max int64, within time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			writeTooLarge(w)
			return
		}
		// The body of a unary call arrives within the call's time limit:
		// the gateway reads it before the call, blind to the call's
		// deadline, and a client sending a byte now and then held its
		// connection (and a descriptor) for as long as it liked.
		if within > 0 && r.Body != nil && r.Body != http.NoBody {
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(within))
		}
		state := &bodyState{}
		r = r.WithContext(context.WithValue(r.Context(), bodyLimitKey{}, state))
		r.Body = &limitedBody{ReadCloser: http.MaxBytesReader(w, r.Body, max), state: state}
		h.ServeHTTP(w, r)
	})
}

// bodyLimitKey holds, in a request's context, its *bodyState.
type bodyLimitKey struct{}

// bodyState is what a request's body reader saw: whether the body reached
// the limit.
type bodyState struct {
	hit bool
	// late: the body did not arrive within the call's time limit.
	late bool
}

// limitedBody notes when its reader refuses to read past the limit.
type limitedBody struct {
	io.ReadCloser
	state *bodyState
}

func (b *limitedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	var tooLarge *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &tooLarge):
		b.state.hit = true
	case errors.As(err, &ne) && ne.Timeout():
		b.state.late = true
	}
	return n, err
}

// writeTooLarge answers 413 with the gateway's error body shape.
func writeTooLarge(w http.ResponseWriter) {
	writeStatus(w, http.StatusRequestEntityTooLarge, `{"code":8,"message":"request body is too large","details":[]}`)
}

// routingError answers a request no route takes. A path served for other
// methods answers 405 with its gRPC code, UNIMPLEMENTED (the gateway's own
// handler sends 501 Not Implemented for it, which says the server cannot do
// such a thing at all); the rest as the gateway does (404 for an unknown
// path).
func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		if allow := allowed(r.URL.Path); allow != "" {
			w.Header().Set("Allow", allow)
		}
		writeStatus(w, http.StatusMethodNotAllowed, methodNotAllowedBody)
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}

// postVerbs are the custom methods the gateway serves for POST only
// (proto/arrears/v1/arrears_gateway.yaml): "/v1/invoices/{id}:cancel" and
// the like.
var postVerbs = []string{"answer", "batch", "cancel", "move", "resolve", "reverse", "revoke"}

// verbsPostOnly answers 405 to a request of another method for a custom
// method's path. The gateway would otherwise take "GET
// /v1/invoices/{id}:cancel" as GetInvoice of the name "{id}:cancel" and
// answer 400, that it is no invoice name. No name the API gives ends in
// one of these verbs after a colon: ids are UUIDs, and a party's natural
// key ends in its registration id.
func verbsPostOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			last := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
			if i := strings.LastIndexByte(last, ':'); i >= 0 && slices.Contains(postVerbs, last[i+1:]) {
				methodNotAllowed(w, http.MethodPost)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// methodNotAllowed answers 405 with the methods the path is served for.
func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	writeStatus(w, http.StatusMethodNotAllowed, methodNotAllowedBody)
}

const methodNotAllowedBody = `{"code":12,"message":"method not allowed: the path is served for another HTTP method","details":[]}`

// writeStatus answers, before the gateway is reached, with the gateway's
// error body shape: body is a google.rpc.Status as JSON.
func writeStatus(w http.ResponseWriter, httpStatus int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(httpStatus)
	_, _ = w.Write([]byte(body))
}

// requireKey answers 401 to a REST request without a valid key, and 429 to
// one over its key's rate limit, before the gateway reads its body, so that
// no route answers anything, not even a parse error, to an unauthenticated
// caller, nor decodes a body it would refuse. The gRPC interceptor of the
// gateway's server checks the key again (with the access table, not the
// rate limit, already charged here) when the gateway calls.
//
// The key check is bounded by bound (the call timeout; 0: none), as the
// gateway's calls are. A request refused here reaches no gRPC server, so it
// is counted in m here, under its route's pattern.
func requireKey(h http.Handler, a Authenticator, lim *limiter, bound time.Duration, m *metrics.Registry, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next := h
		if m != nil {
			rec := &refusal{ResponseWriter: w}
			start := time.Now()
			defer func() {
				if !rec.passed {
					m.Call("rest", r.Pattern, rec.code(), time.Since(start))
				}
			}()
			w, next = rec, rec.pass(h)
		}
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if ok && len(r.Header.Values("Authorization")) == 1 {
			ctx, cancel := r.Context(), context.CancelFunc(func() {})
			if bound > 0 {
				ctx, cancel = context.WithTimeout(ctx, bound)
			}
			p, err := a.Authenticate(ctx, strings.TrimSpace(token))
			ended := ctx.Err()
			cancel()
			switch {
			case err == nil && p.RequireCert != "":
				// A key bound to a client certificate works only on the gRPC
				// port over mutual TLS: refused here, before anything of the
				// request is read, as any key that cannot authenticate is.
				w.Header().Set("WWW-Authenticate", `Bearer realm="arrears"`)
				writeStatus(w, http.StatusUnauthorized, `{"code":16,"message":"this key is bound to a client certificate: use it on the gRPC port over mutual TLS","details":[]}`)
				return
			case err == nil:
				// Charged here, before the body is read and decoded: the
				// gateway's server, which the handler calls, charges nothing.
				if err := lim.allow(p); err != nil {
					log.InfoContext(r.Context(), "call", "path", r.URL.Path, "key", p.Prefix, "code", codes.ResourceExhausted.String())
					st, _ := status.FromError(err)
					setRetryAfter(w, st)
					writeStatus(w, http.StatusTooManyRequests, `{"code":8,"message":"rate limit of this API key exceeded; retry later","details":[]}`)
					return
				}
				if field := notUTF8(r.URL); field != "" {
					writeInvalid(w, field, "is not UTF-8 text")
					return
				}
				if coding := codedBody(r); coding != "" {
					w.Header().Set("Accept-Encoding", "identity")
					writeInvalidAs(w, http.StatusUnsupportedMediaType, "Content-Encoding",
						fmt.Sprintf("%q: request bodies are taken as they are, not in a content coding; send the body uncompressed", coding))
					return
				}
				// For the handler's own checks only: the gRPC call it makes
				// carries the header and is authenticated again.
				next.ServeHTTP(w, r.WithContext(auth.WithPrincipal(r.Context(), p)))
				return
			case !errors.Is(err, auth.ErrUnauthenticated) && errors.Is(ended, context.Canceled):
				return // the client left: no one reads an answer
			case !errors.Is(err, auth.ErrUnauthenticated) && ended != nil:
				// The bound ran out: the key store is not at fault.
				writeStatus(w, http.StatusGatewayTimeout, `{"code":4,"message":"deadline exceeded","details":[]}`)
				return
			case !errors.Is(err, auth.ErrUnauthenticated):
				logKeyCheckFailure(r.Context(), log, err)
				writeStatus(w, http.StatusServiceUnavailable, `{"code":14,"message":"cannot check the API key now; retry later","details":[]}`)
				return
			}
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="arrears"`)
		writeStatus(w, http.StatusUnauthorized, `{"code":16,"message":"missing, invalid, expired or revoked API key","details":[]}`)
	})
}

// refusal records what requireKey answered a request it refused; passed
// says it let the request through (to the handler, on the writer beneath).
type refusal struct {
	http.ResponseWriter
	status int
	passed bool
}

func (f *refusal) WriteHeader(code int) {
	f.status = code
	f.ResponseWriter.WriteHeader(code)
}

// pass is h, called on the writer beneath, the request marked passed.
func (f *refusal) pass(h http.Handler) http.Handler {
	return http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		f.passed = true
		h.ServeHTTP(f.ResponseWriter, r)
	})
}

// code is the gRPC code of the refusal's HTTP status.
func (f *refusal) code() codes.Code {
	switch f.status {
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case http.StatusBadRequest, http.StatusUnsupportedMediaType:
		return codes.InvalidArgument
	case http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusServiceUnavailable:
		return codes.Unavailable
	case 0:
		return codes.Canceled // the client left before an answer
	}
	return codes.Unknown
}

// notUTF8 names the first query parameter (as a field path) or the path
// whose decoded value is not UTF-8, or returns "". The gateway copies them
// into string fields unchecked, and a request holding such a string cannot
// be encoded for the gRPC call: that answered 500 with the library's words.
func notUTF8(u *url.URL) string {
	if !utf8.ValidString(u.Path) {
		return "path"
	}
	q := u.Query()
	keys := slices.Sorted(maps.Keys(q))
	for _, k := range keys {
		bad := !utf8.ValidString(k)
		for _, v := range q[k] {
			bad = bad || !utf8.ValidString(v)
		}
		if !bad {
			continue
		}
		if !utf8.ValidString(k) {
			return "query"
		}
		parts := strings.Split(k, ".")
		for i, part := range parts {
			parts[i] = jsonenc.FieldName(part)
		}
		return strings.Join(parts, ".")
	}
	return ""
}

// writeInvalid answers 400 naming field, as an invalid request's body is
// shaped (a google.rpc.Status with a BadRequest).
func writeInvalid(w http.ResponseWriter, field, desc string) {
	writeInvalidAs(w, http.StatusBadRequest, field, desc)
}

// writeInvalidAs is writeInvalid with another HTTP status.
func writeInvalidAs(w http.ResponseWriter, httpStatus int, field, desc string) {
	st := withViolation(status.New(codes.InvalidArgument, "invalid request: "+field+": "+desc), field, desc)
	body, err := protojson.Marshal(st.Proto())
	if err != nil {
		body = []byte(`{"code":3,"message":"invalid request","details":[]}`)
	}
	writeStatus(w, httpStatus, string(body))
}

// codedBody is the content coding a request's body says it comes in, or ""
// for none (identity, or no body). No route decodes one: read as it
// stood, a gzip body was refused as "invalid value \x1f" on its first line,
// and one merely labelled br was applied. requireKey answers such a
// request 415, as RFC 9110 answers a coding it does not take, saying which
// it does (Accept-Encoding), and counts it as it counts its refusals.
func codedBody(r *http.Request) string {
	if r.ContentLength == 0 && len(r.TransferEncoding) == 0 {
		return "" // no body: nothing coded
	}
	for _, v := range r.Header.Values("Content-Encoding") {
		for _, c := range strings.Split(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return c
			}
		}
	}
	return ""
}

// requireRole refuses, before the body is read, a caller whose role may not
// call method: the routes that take the largest bodies (a sync) would
// otherwise decode them for any valid key, to be refused only by the gRPC
// gate behind the gateway. It runs inside requireKey.
func requireRole(method string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := auth.FromContext(r.Context())
		if rule, ok := auth.Rules[method]; !ok || p == nil || !rule.Allows(p.Role) {
			writeStatus(w, http.StatusForbidden, `{"code":7,"message":"this key's role may not call this method","details":[]}`)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// withViolation is st with a google.rpc.BadRequest naming field, the shape
// every invalid request is answered in; st itself if the detail cannot be
// attached.
func withViolation(st *status.Status, field, desc string) *status.Status {
	d, err := st.WithDetails(&errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: field, Description: desc}}})
	if err != nil {
		return st
	}
	return d
}
