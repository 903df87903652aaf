package csr

import "strings"

// FieldError is one problem with one field of a Request.
type FieldError struct {
	// Field is the name of the Request field, e.g. "Location".
	Field string
	// Property is the ZATCA SDK property of the field, e.g.
	// "csr.location.address" (spec/zatca.md §4.1).
	Property string
	// Rule says what is wrong and what the value must be.
	Rule string
}

func (e FieldError) Error() string {
	if e.Property == "" {
		return e.Field + ": " + e.Rule
	}
	return e.Field + " (" + e.Property + "): " + e.Rule
}

// Errors is every problem found in a Request, returned by Validate and
// Build so that all of them can be fixed at once.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "csr: invalid request: " + strings.Join(parts, "; ")
}
