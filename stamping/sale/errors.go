package sale

import (
	"errors"
	"fmt"
	"strings"
)

// FieldError is one problem with one field of a sale: Field is a path such
// as "lines[2].quantity" ("body" for the body as a whole) and Rule says what
// the field must be.
type FieldError struct {
	Field string `json:"field"`
	Rule  string `json:"rule"`
}

func (e FieldError) Error() string {
	if e.Field == "" {
		return e.Rule
	}
	return e.Field + ": " + e.Rule
}

// Errors is every problem found in a sale. Decode and the regimes' Validate
// return it so that the POS can fix all of them at once.
type Errors []FieldError

func (es Errors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid sale: " + strings.Join(parts, "; ")
}

// Add records a problem with field.
func (es *Errors) Add(field, format string, args ...any) {
	*es = append(*es, FieldError{Field: field, Rule: fmt.Sprintf(format, args...)})
}

// Include records err: each of its problems when it is an Errors (from
// ComputeTotals, say), else one problem with field.
func (es *Errors) Include(field string, err error) {
	var fe Errors
	if errors.As(err, &fe) {
		*es = append(*es, fe...)
		return
	}
	es.Add(field, "%v", err)
}

// Err returns es as an error, or nil if it is empty.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
