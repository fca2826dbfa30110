package server

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// REST clients guard updates the HTTP way, with If-Match, and read a
// resource's version from ETag. The API's etags travel in the messages
// (AIP-154); these carry them to and from those headers, so that an
// If-Match is not ignored, and its update applied over a change it was
// meant to guard against.

// ifMatchKey is the metadata the gateway passes the If-Match header in (a
// header it forwards, prefixed).
var ifMatchKey = runtime.MetadataPrefix + "if-match"

// applyIfMatch, on the gateway's server only (a gRPC client sends the
// etag in the message), takes an If-Match header as the request's etag:
// the etag of the request (CancelInvoice's), or of the resource an
// update's body is (UpdateParty's party). An etag in the message as well
// must be the same. A method that takes no etag is refused an If-Match
// rather than run unguarded; "If-Match: *" (any current version) asks for
// nothing. It runs as the request is decoded, after the key is checked.
func applyIfMatch(ctx context.Context, method string, req any) error {
	md, _ := metadata.FromIncomingContext(ctx)
	vals := md.Get(ifMatchKey)
	if len(vals) == 0 {
		return nil
	}
	refuse := func(desc string) error {
		return withViolation(status.New(codes.InvalidArgument, desc), "etag", desc).Err()
	}
	tag, err := ifMatchTag(vals)
	if err != nil {
		return refuse("If-Match: " + err.Error())
	}
	if tag == "" {
		return nil
	}
	m, ok := req.(proto.Message)
	if !ok {
		return refuse("If-Match: this method takes no etag; send the request without If-Match")
	}
	// The body's own etag is an input to an update only: a payment's or
	// contest's, in a create, is output only.
	body := ""
	if _, name, _ := strings.Cut(strings.TrimPrefix(method, "/"), "/"); strings.HasPrefix(name, "Update") {
		body = bodySelector[method]
	}
	holder, field, bodyless := etagField(m.ProtoReflect(), body)
	switch {
	case bodyless:
		return nil // refused for its missing body
	case field == nil:
		return refuse("If-Match: this method takes no etag; send the request without If-Match")
	}
	switch cur := holder.Get(field).String(); {
	case cur == "":
		holder.Set(field, protoreflect.ValueOfString(tag))
	case cur != tag:
		return refuse(fmt.Sprintf("If-Match %q and the etag %q in the body differ", tag, cur))
	}
	return nil
}

// ifMatchTag reads an If-Match header's one etag, unquoted; "" for "*".
func ifMatchTag(vals []string) (string, error) {
	v := strings.TrimSpace(strings.Join(vals, ","))
	switch {
	case v == "*":
		return "", nil
	case strings.Contains(v, ","):
		return "", fmt.Errorf("%q names more than one etag; name the one read", v)
	case strings.HasPrefix(v, "W/"):
		return "", fmt.Errorf("%q is a weak etag, which If-Match never matches; send the etag as read", v)
	}
	tag, err := strconv.Unquote(v)
	if err != nil || !strings.HasPrefix(v, `"`) || tag == "" {
		return "", fmt.Errorf("%q is not a quoted etag, as ETag gives it (e.g. \"3\")", v)
	}
	return tag, nil
}

// etagField finds the string field "etag" of m, or else of its field body
// (the resource a request's body is); bodyless when that field is unset.
func etagField(m protoreflect.Message, body string) (holder protoreflect.Message, etag protoreflect.FieldDescriptor, bodyless bool) {
	if f := etagOf(m); f != nil {
		return m, f, false
	}
	b := m.Descriptor().Fields().ByName(protoreflect.Name(body))
	if body == "" || b == nil || b.Message() == nil || b.IsList() || b.IsMap() {
		return nil, nil, false
	}
	if !m.Has(b) {
		return nil, nil, true
	}
	inner := m.Mutable(b).Message()
	if f := etagOf(inner); f != nil {
		return inner, f, false
	}
	return nil, nil, false
}

// etagOf is m's string field "etag", nil if it has none.
func etagOf(m protoreflect.Message) protoreflect.FieldDescriptor {
	if f := m.Descriptor().Fields().ByName("etag"); f != nil && f.Kind() == protoreflect.StringKind && !f.IsList() {
		return f
	}
	return nil
}

// etagHeader sets ETag on a REST answer that is one resource with an etag
// (GetInvoice's invoice, UpdateParty's party): the value If-Match takes.
// An answer holding more (CreateCreditNote's note and invoice) gets none:
// an etag there would not be the created resource's.
func etagHeader(_ context.Context, w http.ResponseWriter, resp proto.Message) error {
	if resp == nil {
		return nil // a stream's call with no message
	}
	m := resp.ProtoReflect()
	var tag string
	resources := 0
	for f, v := range m.Range {
		if f.Message() == nil || f.IsList() || f.IsMap() {
			continue
		}
		resources++
		if e := etagOf(v.Message()); e != nil {
			tag = v.Message().Get(e).String()
		}
	}
	if resources == 1 && tag != "" {
		w.Header().Set("ETag", strconv.Quote(tag))
	}
	return nil
}
