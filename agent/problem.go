package agent

import (
	"encoding/json"
	"net/http"

	"github.com/egsd/egsd/stamping/sale"
)

// Problem is an RFC 9457 problem document. Errors lists each field and the
// rule it broke, so a POS can show the cashier what to fix.
type Problem struct {
	Type   string            `json:"type"`
	Title  string            `json:"title"`
	Status int               `json:"status"`
	Detail string            `json:"detail,omitempty"`
	Errors []sale.FieldError `json:"errors,omitempty"`
}

// Problem types: stable identifiers a POS can switch on.
const (
	problemInvalidSale   = "urn:egsd:problem:invalid-sale"
	problemInvalidInput  = "urn:egsd:problem:invalid-input"
	problemUnauthorized  = "urn:egsd:problem:unauthorized"
	problemForbidden     = "urn:egsd:problem:forbidden"
	problemNotFound      = "urn:egsd:problem:not-found"
	problemConflict      = "urn:egsd:problem:conflict"
	problemIdempotency   = "urn:egsd:problem:idempotency-key-reused"
	problemClock         = "urn:egsd:problem:clock"
	problemTooLarge      = "urn:egsd:problem:body-too-large"
	problemMediaType     = "urn:egsd:problem:unsupported-media-type"
	problemLocked        = "urn:egsd:problem:account-locked"
	problemInternal      = "urn:egsd:problem:internal"
	problemUnavailable   = "urn:egsd:problem:unavailable"
	problemMethodMissing = "urn:egsd:problem:method-not-allowed"

	problemInsufficientStorage = "urn:egsd:problem:insufficient-storage"
)

func writeProblem(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	json.NewEncoder(w).Encode(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fieldProblem is a 400 for one field.
func fieldProblem(field, rule string) Problem {
	return Problem{Type: problemInvalidInput, Title: "Invalid request", Status: http.StatusBadRequest,
		Detail: field + ": " + rule, Errors: []sale.FieldError{{Field: field, Rule: rule}}}
}
