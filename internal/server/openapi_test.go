package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/arrears/arrears/gen/openapi"
)

// TestOpenAPIDocumentDescribesTheAPI: a client generated from the document
// served at /openapi.json can call the API: it says how a key is sent, and
// every PATCH takes the updateMask the README asks for; and it is titled as
// the API, not after the first proto file merged into it.
func TestOpenAPIDocumentDescribesTheAPI(t *testing.T) {
	var doc struct {
		Info                struct{ Title string }
		SecurityDefinitions map[string]struct{ Type, In, Name string }
		Security            []map[string][]string
		Paths               map[string]map[string]struct {
			Parameters []struct {
				Name, In string
				Schema   struct {
					Properties map[string]struct{ ReadOnly bool }
				}
			}
		}
	}
	if err := json.Unmarshal(openapi.Document, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Info.Title == "" || strings.HasSuffix(doc.Info.Title, ".proto") {
		t.Errorf("title %q, want the API's", doc.Info.Title)
	}
	if len(doc.Security) != 1 || len(doc.Security[0]) != 1 {
		t.Fatalf("security %v, want one scheme required of every call", doc.Security)
	}
	for name := range doc.Security[0] {
		if d := doc.SecurityDefinitions[name]; d.Type != "apiKey" || d.In != "header" || d.Name != "Authorization" {
			t.Errorf("security scheme %s = %+v, want an API key in the Authorization header", name, d)
		}
	}
	patches := 0
	for path, ops := range doc.Paths {
		op, ok := ops["patch"]
		if !ok {
			continue
		}
		patches++
		mask := false
		for _, p := range op.Parameters {
			mask = mask || (p.Name == "updateMask" && p.In == "query")
			// The etag goes back in the body: a generated client leaves
			// a read-only field out of a request.
			if etag, ok := p.Schema.Properties["etag"]; p.In == "body" && (!ok || etag.ReadOnly) {
				t.Errorf("PATCH %s: the body's etag is missing or read-only", path)
			}
		}
		if !mask {
			t.Errorf("PATCH %s takes no updateMask query parameter: %+v", path, op.Parameters)
		}
	}
	if patches == 0 {
		t.Error("no PATCH in the document")
	}
}
