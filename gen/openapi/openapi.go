// Package openapi embeds the OpenAPI (Swagger 2.0) document that
// protoc-gen-openapiv2 writes beside this file, so arrearsd can serve it.
// This file is written by hand; `make generate` leaves it alone.
package openapi

import _ "embed"

// Document is arrears.swagger.json.
//
//go:embed arrears.swagger.json
var Document []byte
