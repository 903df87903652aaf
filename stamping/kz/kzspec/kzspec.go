// Package kzspec checks OFD frames independently of the encoder that made
// them: protoc --decode_raw reads the payload, and each field number, wire
// type and required field is compared with the field tables of
// spec/kz-ofd.md §2, written out here by hand from the spec. Tests of
// stamping/kz and sim/ofd run every frame they send through it.
package kzspec

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// The spec's field tables (spec/kz-ofd.md §2.2–§2.6), written out by hand
// from the spec and not from the encoder: for each message, each field's
// kind (v varint, s string or bytes, m:Name a message) and whether it
// must be on the wire ("required", or "required since" a version up to
// 2.0.3). protoc --decode_raw's reading of every frame is checked
// against them, so the encoder is not checked against its own decoder.
type Field struct {
	kind     string
	required bool
}

var Tables = map[string]map[int]Field{
	"Request":  {1: {"v", true}, 2: {"m:TicketRequest", false}, 3: {"m:CloseShiftRequest", false}, 4: {"m:ReportRequest", false}, 6: {"m:ServiceRequest", false}},
	"Response": {1: {"v", true}, 2: {"m:Result", true}, 3: {"m:TicketResponse", false}, 4: {"m:ReportResponse", false}, 6: {"m:ServiceResponse", false}},
	"Result":   {1: {"v", true}, 2: {"s", false}},
	"Date":     {1: {"v", true}, 2: {"v", true}, 3: {"v", true}},
	"Time":     {1: {"v", true}, 2: {"v", true}, 3: {"v", false}},
	"DateTime": {1: {"m:Date", true}, 2: {"m:Time", true}},
	"Money":    {1: {"v", true}, 2: {"v", true}},
	"Operator": {1: {"v", true}, 2: {"s", false}},
	"TicketRequest": {1: {"v", true}, 2: {"m:DateTime", true}, 3: {"m:Operator", true}, 4: {"m:Domain", true}, 5: {"m:Item", false},
		6: {"m:Payment", false}, 7: {"m:Tax", false}, 8: {"m:Amounts", true}, 9: {"m:ExtensionOptions", false}, 10: {"v", false},
		14: {"v", false}, 15: {"v", false}, 17: {"m:ParentTicket", false}},
	"Domain":   {1: {"v", true}},
	"Tax":      {1: {"v", true}, 2: {"v", false}, 3: {"v", true}, 4: {"m:Money", true}, 5: {"v", true}},
	"Modifier": {1: {"s", true}, 2: {"m:Money", true}, 3: {"m:Tax", false}},
	"Item":     {1: {"v", true}, 2: {"m:Commodity", false}, 4: {"m:Modifier", false}, 5: {"m:Modifier", false}, 6: {"m:Modifier", false}, 7: {"m:Modifier", false}},
	"Commodity": {1: {"v", false}, 2: {"s", true}, 3: {"s", true}, 4: {"v", true}, 5: {"m:Money", true}, 6: {"m:Money", true}, 7: {"m:Tax", false},
		11: {"s", false}, 12: {"s", false}, 13: {"s", true}, 14: {"s", false}, 15: {"s", false}},
	"Payment":          {1: {"v", true}, 2: {"m:Money", true}},
	"Amounts":          {1: {"m:Money", true}, 2: {"m:Money", false}, 3: {"m:Money", false}, 4: {"m:Modifier", false}, 5: {"m:Modifier", false}},
	"ExtensionOptions": {1: {"s", false}, 2: {"s", false}, 4: {"s", false}},
	"ParentTicket":     {1: {"s", true}, 2: {"m:DateTime", true}, 3: {"s", true}, 4: {"m:Money", true}, 5: {"v", true}},
	"TicketResponse":   {1: {"s", true}, 2: {"s", false}},
	"CloseShiftRequest": {1: {"m:DateTime", true}, 2: {"v", false}, 3: {"v", false}, 4: {"v", false}, 5: {"m:ZXReport", true},
		6: {"m:Operator", true}, 7: {"v", false}},
	"ReportRequest":  {1: {"v", true}, 2: {"m:DateTime", true}, 3: {"v", false}, 4: {"m:ZXReport", true}},
	"ReportResponse": {1: {"v", true}, 2: {"m:ZXReport", true}},
	"ZXReport": {1: {"m:DateTime", true}, 2: {"v", true}, 3: {"m:Section", false}, 4: {"m:Operation", false}, 5: {"m:Operation", false},
		6: {"m:Operation", false}, 7: {"m:Operation", false}, 8: {"m:ZTax", false}, 9: {"m:NonNullableSum", false},
		10: {"m:TicketOperation", false}, 13: {"m:Money", true}, 14: {"m:Revenue", true}, 15: {"m:NonNullableSum", false},
		16: {"m:DateTime", true}, 17: {"m:DateTime", false}, 18: {"s", false}},
	"Operation":      {1: {"v", true}, 2: {"v", true}, 3: {"m:Money", true}},
	"Section":        {1: {"s", true}, 2: {"m:Operation", false}},
	"ZTax":           {1: {"v", true}, 2: {"v", true}, 3: {"m:TaxOperation", false}},
	"TaxOperation":   {1: {"v", true}, 2: {"m:Money", true}, 3: {"m:Money", true}, 4: {"m:Money", true}},
	"NonNullableSum": {1: {"v", true}, 2: {"m:Money", true}},
	"TicketOperation": {1: {"v", true}, 2: {"v", true}, 3: {"v", true}, 4: {"m:Money", true}, 5: {"m:TicketOperationPayment", false},
		6: {"v", true}, 7: {"m:Money", true}, 8: {"m:Money", true}, 9: {"m:Money", true}},
	"TicketOperationPayment": {1: {"v", true}, 2: {"m:Money", true}, 3: {"v", true}},
	"Revenue":                {1: {"m:Money", true}, 2: {"v", true}},
	"ServiceRequest":         {4: {"m:OfflinePeriod", true}, 7: {"v", true}, 12: {"m:ServiceRequestRegInfo", true}},
	"OfflinePeriod":          {1: {"m:DateTime", true}, 2: {"m:DateTime", true}},
	"ServiceRequestRegInfo":  {1: {"m:KkmRegInfo", true}, 2: {"m:OrgRegInfo", true}},
	"ServiceResponse":        {2: {"m:ServiceResponseRegInfo", false}},
	"ServiceResponseRegInfo": {1: {"m:KkmRegInfo", true}, 2: {"m:PosRegInfo", false}, 3: {"m:OrgRegInfo", true}},
	"KkmRegInfo":             {1: {"s", true}, 2: {"s", true}, 3: {"s", false}, 4: {"s", false}, 5: {"s", false}},
	"PosRegInfo":             {1: {"s", false}, 2: {"s", false}, 3: {"s", false}, 4: {"v", false}, 5: {"v", false}},
	"OrgRegInfo":             {1: {"s", false}, 2: {"s", false}, 3: {"s", false}, 5: {"s", false}, 6: {"s", false}},
}

// Node is one field as protoc --decode_raw prints it.
type Node struct {
	num      int
	kind     byte // 'v' number, 's' quoted string, 'm' message
	children []*Node
	text     string
}

// parseDecodeRaw reads protoc --decode_raw's text.
func ParseDecodeRaw(out string) ([]*Node, error) {
	root := &Node{kind: 'm'}
	stack := []*Node{root}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case line == "}":
			if len(stack) < 2 {
				return nil, fmt.Errorf("unbalanced }")
			}
			stack = stack[:len(stack)-1]
		case strings.HasSuffix(line, " {"):
			n, err := strconv.Atoi(strings.TrimSuffix(line, " {"))
			if err != nil {
				return nil, fmt.Errorf("line %q: %v", line, err)
			}
			node := &Node{num: n, kind: 'm'}
			top := stack[len(stack)-1]
			top.children = append(top.children, node)
			stack = append(stack, node)
		default:
			k, v, ok := strings.Cut(line, ": ")
			if !ok {
				return nil, fmt.Errorf("line %q is not a field", line)
			}
			n, err := strconv.Atoi(k)
			if err != nil {
				return nil, fmt.Errorf("line %q: %v", line, err)
			}
			node := &Node{num: n, text: v, kind: 'v'}
			if strings.HasPrefix(v, `"`) {
				node.kind = 's'
			} else if strings.HasPrefix(v, "0x") {
				node.kind = 'f' // fixed-width: only inside a string protoc took for a message
			} else if _, err := strconv.ParseUint(v, 10, 64); err != nil {
				return nil, fmt.Errorf("line %q: not a number", line)
			}
			top := stack[len(stack)-1]
			top.children = append(top.children, node)
		}
	}
	if len(stack) != 1 {
		return nil, fmt.Errorf("unbalanced {")
	}
	return root.children, sc.Err()
}

// checkAgainstSpec checks protoc's tree of message msg against the tables:
// every field known, of its kind, and every required one present.
func Check(path, msg string, nodes []*Node) []string {
	table, ok := Tables[msg]
	if !ok {
		return []string{path + ": no table for " + msg}
	}
	var problems []string
	seen := map[int]bool{}
	for _, n := range nodes {
		seen[n.num] = true
		f, ok := table[n.num]
		p := fmt.Sprintf("%s.%d", path, n.num)
		if !ok {
			problems = append(problems, fmt.Sprintf("%s: field %d is not in the spec's table of %s", p, n.num, msg))
			continue
		}
		switch {
		case f.kind == "v":
			if n.kind != 'v' {
				problems = append(problems, fmt.Sprintf("%s: want a varint, protoc read a %c", p, n.kind))
			}
		case f.kind == "s":
			// A short string that happens to parse as a message is shown
			// as one (spec §5 caveats): either is length-delimited.
			if n.kind == 'v' || n.kind == 'f' {
				problems = append(problems, fmt.Sprintf("%s: want a string, protoc read a number", p))
			}
		default:
			sub := strings.TrimPrefix(f.kind, "m:")
			switch n.kind {
			case 'm':
				problems = append(problems, Check(p, sub, n.children)...)
			case 's':
				if n.text != `""` {
					problems = append(problems, fmt.Sprintf("%s: want a %s message, protoc read a string %s", p, sub, n.text))
				} else {
					problems = append(problems, Check(p, sub, nil)...)
				}
			default:
				problems = append(problems, fmt.Sprintf("%s: want a %s message, protoc read a number", p, sub))
			}
		}
	}
	for num, f := range table {
		if f.required && !seen[num] {
			problems = append(problems, fmt.Sprintf("%s: required field %d of %s is missing", path, num, msg))
		}
	}
	return problems
}

// requireProtoc returns protoc's path, or skips the test when protoc is
// not installed here (CI installs it: .ci/run, Debian protobuf-compiler).
func RequireProtoc(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("protoc")
	if err != nil {
		t.Skip("protoc is not installed (apt-get install protobuf-compiler): the frames are not cross-checked by protoc here; CI installs it")
	}
	return p
}

// decodeRaw runs protoc --decode_raw on payload.
func DecodeRaw(t testing.TB, protoc string, payload []byte) []*Node {
	t.Helper()
	cmd := exec.Command(protoc, "--decode_raw")
	cmd.Stdin = bytes.NewReader(payload)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("protoc --decode_raw: %v: %s", err, stderr.String())
	}
	nodes, err := ParseDecodeRaw(string(out))
	if err != nil {
		t.Fatalf("reading protoc's output: %v\n%s", err, out)
	}
	return nodes
}

// CheckFrame checks a whole frame: the header (APPCODE a2 81, VERSION
// cb 00, SIZE the frame's length) by hand, the payload with protoc against
// the tables of msg (Request or Response).
func CheckFrame(t testing.TB, protoc string, frame []byte, msg string) {
	t.Helper()
	if len(frame) < 18 {
		t.Fatalf("a frame of %d bytes", len(frame))
	}
	if frame[0] != 0xa2 || frame[1] != 0x81 || frame[2] != 0xcb || frame[3] != 0x00 {
		t.Fatalf("header starts % x, want a2 81 cb 00", frame[:4])
	}
	if size := binary.LittleEndian.Uint32(frame[4:]); int(size) != len(frame) {
		t.Fatalf("SIZE %d, the frame has %d bytes", size, len(frame))
	}
	for _, p := range Check(msg, msg, DecodeRaw(t, protoc, frame[18:])) {
		t.Error(p)
	}
}
