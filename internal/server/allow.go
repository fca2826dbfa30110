package server

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/arrears/arrears/gen/openapi"
)

// A 405 must say which methods the path is served for (RFC 9110, 15.5.6).
// The gateway's router does not tell; the OpenAPI document, generated from
// the same routes, does: each path template with its parameters' patterns
// ("invoices/[^/]+") and its methods.

// route is a path template of the API as a pattern, and a method it is
// served for.
type route struct {
	path   *regexp.Regexp
	method string
}

// routes reads the OpenAPI document's paths once.
var routes = sync.OnceValue(func() []route {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name, In, Pattern string
			}
		}
	}
	if json.Unmarshal(openapi.Document, &doc) != nil {
		return nil
	}
	param := regexp.MustCompile(`\{([^}]+)\}`)
	var out []route
	for path, ops := range doc.Paths {
		for method, op := range ops {
			patterns := map[string]string{}
			for _, p := range op.Parameters {
				if p.In == "path" && p.Pattern != "" {
					patterns[p.Name] = p.Pattern
				}
			}
			// Literal text quoted, each {name} its pattern (one segment
			// where the document gives none).
			var re strings.Builder
			last := 0
			for _, m := range param.FindAllStringSubmatchIndex(path, -1) {
				re.WriteString(regexp.QuoteMeta(path[last:m[0]]))
				p := patterns[path[m[2]:m[3]]]
				if p == "" {
					p = "[^/]+"
				}
				re.WriteString("(?:" + p + ")")
				last = m[1]
			}
			re.WriteString(regexp.QuoteMeta(path[last:]))
			compiled, err := regexp.Compile("^" + re.String() + "$")
			if err != nil {
				continue
			}
			out = append(out, route{path: compiled, method: strings.ToUpper(method)})
		}
	}
	return out
})

// allowed lists the methods path is served for, HEAD with GET, sorted; ""
// when none is known.
func allowed(path string) string {
	var methods []string
	for _, r := range routes() {
		if r.path.MatchString(path) && !slices.Contains(methods, r.method) {
			methods = append(methods, r.method)
			if r.method == http.MethodGet {
				methods = append(methods, http.MethodHead)
			}
		}
	}
	slices.Sort(methods)
	return strings.Join(slices.Compact(methods), ", ")
}

// headAsGet serves HEAD as GET, as RFC 9110 (9.3.2) asks of every resource
// served for GET, and as the Allow of a 405 says: the gateway's router
// knows GET only, and answered HEAD 405 naming HEAD among the methods it
// takes. The server sends no body for a HEAD request, whatever is written.
func headAsGet(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodHead {
			r = r.Clone(r.Context())
			r.Method = http.MethodGet
		}
		h.ServeHTTP(w, r)
	})
}
