package server

import (
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/proto" // registers the codec boundedCodec wraps
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/arrears/arrears/internal/protocheck"
)

// boundedCodec is the server's protobuf codec: before a request is decoded
// it adds up what decoding would allocate, and refuses the request when
// that passes its budget.
//
// The byte limit on a request does not bound its decoded size: an empty
// element of a repeated message field is two bytes on the wire and a whole
// Go struct in memory (a PayableRecord is about 300 bytes), so a 4 MiB
// chunk of empty records would decode into some 600 MB. The budget is a
// multiple of the byte limit that real requests, whose elements carry
// their fields, stay well inside.
type boundedCodec struct {
	inner  encoding.CodecV2
	budget int
}

func newBoundedCodec(maxRequestBytes int) *boundedCodec {
	return &boundedCodec{inner: encoding.GetCodecV2("proto"), budget: decodeBudgetFactor * maxRequestBytes}
}

// decodeBudgetFactor is how many bytes of Go structs a request may decode
// into per byte of the request limit. A sync record with its dates, amount
// and references decodes into about four times its size; one that names
// only its reference and amount, about eight.
const decodeBudgetFactor = 16

func (c *boundedCodec) Name() string                           { return c.inner.Name() }
func (c *boundedCodec) Marshal(v any) (mem.BufferSlice, error) { return c.inner.Marshal(v) }

// Unmarshal decodes v, or leaves it empty and records why it refused to:
// gRPC sends INTERNAL as soon as a codec returns an error, so the refusal
// is kept for takeRefusal, which the guarded handlers and streams call
// after each read, to answer INVALID_ARGUMENT naming the field instead.
func (c *boundedCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(proto.Message)
	if !ok {
		return c.inner.Unmarshal(data, v)
	}
	buf := data.MaterializeToBuffer(mem.DefaultBufferPool())
	defer buf.Free()
	b := buf.ReadOnlyData()
	left := c.budget
	if field, over := decodeCost(b, m.ProtoReflect().Descriptor(), 0, &left); over {
		refusals.Store(v, badRequest(field, "too many elements: the request would decode into more memory than one request may take; send fewer records per message"))
		return nil
	}
	if err := proto.Unmarshal(b, m); err != nil {
		proto.Reset(m)
		if field := badUTF8(b, m.ProtoReflect().Descriptor(), 0); field != "" {
			refusals.Store(v, badRequest(field, "is not valid UTF-8"))
		} else {
			refusals.Store(v, badRequest("request", "not a protobuf encoding of the method's request message"))
		}
		return nil
	}
	if _, own := checksOwnRecords[m.ProtoReflect().Descriptor().FullName()]; !own {
		if field := protocheck.NUL(m.ProtoReflect()); field != "" {
			proto.Reset(m)
			refusals.Store(v, badRequest(field, protocheck.NULProblem))
		}
	}
	return nil
}

// checksOwnRecords are the messages whose records the sync service checks
// one by one (a record with a NUL is rejected alone, its chunk applied):
// refusing the whole message here would fail every other record with it.
var checksOwnRecords = map[protoreflect.FullName]struct{}{
	"arrears.v1.SyncPayablesRequest":      {},
	"arrears.v1.SyncPayablesBatchRequest": {},
}

// refusals holds, by the message a read was decoding into, why the codec
// refused it. Every service is registered through gate.guard and every
// stream passes gate.stream, which take the entry right after the read, so
// none is left behind.
var refusals sync.Map // any (the message pointer) -> error

// takeRefusal returns (and forgets) why the codec refused to decode v.
func takeRefusal(v any) error {
	if err, ok := refusals.LoadAndDelete(v); ok {
		return err.(error)
	}
	return nil
}

func badRequest(field, desc string) error {
	return withViolation(status.New(codes.InvalidArgument, "invalid request: "+field+": "+desc), field, desc).Err()
}

// maxCostDepth stops the count at a nesting no request of this API has;
// deeper messages are left to proto.Unmarshal's own limit.
const maxCostDepth = 16

// decodeCost subtracts from *left what decoding b as md allocates for
// messages, list elements and strings, and reports the field (a dotted
// path) at which *left went below zero. Malformed input is not judged
// here: proto.Unmarshal gives its error.
func decodeCost(b []byte, md protoreflect.MessageDescriptor, depth int, left *int) (string, bool) {
	fields := md.Fields()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return "", false
			}
			b = b[n:]
			if fd != nil && fd.IsList() {
				*left -= 8
			}
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		switch {
		case fd.Message() != nil:
			// A message (or a map entry): its struct, and a pointer in
			// the list or map that holds it.
			*left -= goSize(fd.Message()) + 8
			if *left >= 0 && depth < maxCostDepth {
				if path, over := decodeCost(v, fd.Message(), depth+1, left); over {
					return string(fd.Name()) + "." + path, true
				}
			}
		case fd.IsList() && fd.Kind() != protoreflect.StringKind && fd.Kind() != protoreflect.BytesKind:
			// Packed scalars: at most eight bytes each per wire byte.
			*left -= 8 * len(v)
		default:
			*left -= 16 + len(v)
		}
		if *left < 0 {
			return string(fd.Name()), true
		}
	}
	return "", false
}

// badUTF8 returns the path of the first string field of b (decoded as md)
// that is not valid UTF-8, which proto.Unmarshal refuses with no field
// named, or "" if there is none (or the bytes are malformed before one).
// Elements of repeated fields are named by their index.
func badUTF8(b []byte, md protoreflect.MessageDescriptor, depth int) string {
	fields := md.Fields()
	seen := map[protowire.Number]int{} // elements of each repeated field so far
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		fd := fields.ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			if n = protowire.ConsumeFieldValue(num, typ, b); n < 0 {
				return ""
			}
			b = b[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return ""
		}
		b = b[n:]
		name := string(fd.Name())
		if fd.IsList() {
			name += "[" + strconv.Itoa(seen[num]) + "]"
			seen[num]++
		}
		switch {
		case fd.Message() != nil && depth < maxCostDepth:
			if path := badUTF8(v, fd.Message(), depth+1); path != "" {
				return name + "." + path
			}
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			return name
		}
	}
	return ""
}

// goSizes caches the size of each message type's generated struct.
var goSizes sync.Map // protoreflect.FullName -> int

func goSize(md protoreflect.MessageDescriptor) int {
	if n, ok := goSizes.Load(md.FullName()); ok {
		return n.(int)
	}
	n := 64 // map entries and types not in the registry
	if mt, err := protoregistry.GlobalTypes.FindMessageByName(md.FullName()); err == nil {
		if t := reflect.TypeOf(mt.Zero().Interface()); t.Kind() == reflect.Pointer {
			n = int(t.Elem().Size())
		}
	}
	goSizes.Store(md.FullName(), n)
	return n
}

// jsonObjectCost is what one JSON object of a request is taken to decode
// into: a little more than the largest message struct a request repeats
// (a PayableRecord, 280 bytes). jsonElementCost is a list element's slot.
const (
	jsonObjectCost  = 320
	jsonElementCost = 16
)

// jsonOverBudget reports whether a JSON request body may decode into more
// than budget bytes of Go structs, counted from its objects and list
// elements in one pass over the bytes, without decoding. It is the JSON
// side of decodeCost, for the gateway and the NDJSON sync stream, which
// decode JSON before the gRPC codec sees the request; a body of empty
// objects ("{},{},...", three bytes each) is what it stops.
func jsonOverBudget(b []byte, budget int) bool {
	left := budget
	inString := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{':
			left -= jsonObjectCost
		case ',', '[':
			left -= jsonElementCost
		}
		if left < 0 {
			return true
		}
	}
	return false
}

// boundedJSON is the gateway's marshaler: it refuses a body that
// jsonOverBudget finds too costly before decoding it.
type boundedJSON struct {
	*runtime.JSONPb
	budget int
}

func (j *boundedJSON) Unmarshal(data []byte, v any) error {
	if jsonOverBudget(data, j.budget) {
		return errJSONOverBudget
	}
	if err := j.JSONPb.Unmarshal(data, v); err != nil {
		// Named here, where the bytes the position counts in are at hand.
		return describeJSONError(data, err)
	}
	return nil
}

func (j *boundedJSON) NewDecoder(r io.Reader) runtime.Decoder {
	d := json.NewDecoder(r)
	return runtime.DecoderFunc(func(v any) error {
		var raw json.RawMessage
		if err := d.Decode(&raw); err != nil {
			return err
		}
		return j.Unmarshal(raw, v)
	})
}

// errJSONOverBudget is the gateway's answer (INVALID_ARGUMENT, field body)
// to a body that would decode into too much.
var errJSONOverBudget = errors.New("too many elements: the body would decode into more memory than one request may take; send fewer records per request")
