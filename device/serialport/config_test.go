package serialport

import (
	"errors"
	"io/fs"
	"strings"
	"testing"

	"go.bug.st/serial"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none means valid
	}{
		{"path with defaults", Config{Path: "/dev/ttyUSB0"}, nil},
		{"usb lower case", Config{USB: USBID{VendorID: "04b8", ProductID: "0e15"}}, nil},
		{"usb upper case with serial", Config{USB: USBID{VendorID: "04B8", ProductID: "0E15", SerialNumber: "X5A1"}}, nil},
		{"every setting", Config{Path: "COM3", Baud: 115200, DataBits: 7, Parity: ParityEven, StopBits: 2}, nil},
		{"odd parity", Config{Path: "/dev/ttyS0", Parity: ParityOdd}, nil},
		{"neither path nor usb", Config{}, []string{"path or usb: set exactly one"}},
		{"both path and usb", Config{Path: "/dev/ttyUSB0", USB: USBID{VendorID: "04b8", ProductID: "0e15"}}, []string{"path or usb: set exactly one"}},
		{"usb serial only", Config{USB: USBID{SerialNumber: "X"}}, []string{"usb.vendor_id: must be 4 hex digits", "usb.product_id: must be 4 hex digits"}},
		{"usb vendor not hex", Config{USB: USBID{VendorID: "04g8", ProductID: "0e15"}}, []string{`usb.vendor_id: must be 4 hex digits, like 04b8 (got "04g8")`}},
		{"usb product too long", Config{USB: USBID{VendorID: "04b8", ProductID: "0x0e15"}}, []string{`usb.product_id: must be 4 hex digits, like 0e15 (got "0x0e15")`}},
		{"baud 14400", Config{Path: "/dev/ttyS0", Baud: 14400}, []string{"baud: must be one of 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400 (got 14400)"}},
		{"negative baud", Config{Path: "/dev/ttyS0", Baud: -9600}, []string{"baud: must be one of"}},
		{"data bits 6", Config{Path: "/dev/ttyS0", DataBits: 6}, []string{"data_bits: must be 7 or 8 (got 6)"}},
		{"parity mark", Config{Path: "/dev/ttyS0", Parity: "mark"}, []string{`parity: must be none, even or odd (got "mark")`}},
		{"parity upper case", Config{Path: "/dev/ttyS0", Parity: "EVEN"}, []string{`parity: must be none, even or odd (got "EVEN")`}},
		{"stop bits 3", Config{Path: "/dev/ttyS0", StopBits: 3}, []string{"stop_bits: must be 1 or 2 (got 3)"}},
		{"all wrong at once", Config{Baud: 1, DataBits: 9, Parity: "x", StopBits: -1}, []string{"path or usb", "baud:", "data_bits:", "parity:", "stop_bits:"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error containing %q", tt.want)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Validate() = %q, want it to contain %q", err, w)
				}
			}
		})
	}
}

func TestMode(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want serial.Mode
	}{
		{"defaults", Config{Path: "/dev/ttyS0"}, serial.Mode{BaudRate: 9600, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}},
		{"explicit none and 1", Config{Path: "/dev/ttyS0", Parity: ParityNone, StopBits: 1}, serial.Mode{BaudRate: 9600, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}},
		{"115200 7E2", Config{Path: "/dev/ttyS0", Baud: 115200, DataBits: 7, Parity: ParityEven, StopBits: 2}, serial.Mode{BaudRate: 115200, DataBits: 7, Parity: serial.EvenParity, StopBits: serial.TwoStopBits}},
		{"odd", Config{Path: "/dev/ttyS0", Baud: 19200, Parity: ParityOdd}, serial.Mode{BaudRate: 19200, DataBits: 8, Parity: serial.OddParity, StopBits: serial.OneStopBit}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := *tt.cfg.mode(); got != tt.want {
				t.Errorf("mode() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFindUSB(t *testing.T) {
	ports := []PortInfo{
		{Name: "/dev/ttyS0"},
		{Name: "/dev/ttyUSB0", USB: true, VendorID: "067b", ProductID: "2303", SerialNumber: "A"},
		{Name: "/dev/ttyUSB1", USB: true, VendorID: "067b", ProductID: "2303", SerialNumber: "B"},
		{Name: "/dev/usb/lp0", USB: true, VendorID: "04b8", ProductID: "0e15", SerialNumber: "X5A1"},
	}
	tests := []struct {
		name    string
		id      USBID
		want    string
		wantErr string
	}{
		{"unique product", USBID{VendorID: "04b8", ProductID: "0e15"}, "/dev/usb/lp0", ""},
		{"case does not matter", USBID{VendorID: "04B8", ProductID: "0E15"}, "/dev/usb/lp0", ""},
		{"serial picks one of two", USBID{VendorID: "067b", ProductID: "2303", SerialNumber: "B"}, "/dev/ttyUSB1", ""},
		{"two without serial", USBID{VendorID: "067b", ProductID: "2303"}, "", "usb: 2 devices match 067b:2303 (/dev/ttyUSB0, /dev/ttyUSB1): set usb.serial_number to pick one"},
		{"wrong serial", USBID{VendorID: "04b8", ProductID: "0e15", SerialNumber: "Z"}, "", "usb: no device 04b8:0e15 serial Z is connected"},
		{"absent", USBID{VendorID: "1234", ProductID: "5678"}, "", "usb: no device 1234:5678 is connected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := findUSB(ports, tt.id)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("findUSB() = %q, %v; want error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("findUSB() = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
	if _, err := findUSB(ports, USBID{VendorID: "1234", ProductID: "5678"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a device that is not connected: error %v does not wrap fs.ErrNotExist", err)
	}
}
