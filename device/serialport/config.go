package serialport

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.bug.st/serial"
)

// Parity is the parity bit setting of a serial line.
type Parity string

// The parity settings receipt printers offer.
const (
	ParityNone Parity = "none"
	ParityEven Parity = "even"
	ParityOdd  Parity = "odd"
)

// Config says which device to open and, for a serial port, how to set the
// line. Zero values take the defaults (9600 baud, 8 data bits, no parity,
// 1 stop bit: what receipt printers ship with). The line settings are
// ignored for a device that is not a tty, such as /dev/usb/lp0.
type Config struct {
	Path     string // "/dev/ttyUSB0", "/dev/serial/by-id/...", "COM3", "/dev/usb/lp0"
	USB      USBID  // alternative to Path: find the port by vendor/product (and serial number if set)
	Baud     int    // default 9600
	DataBits int    // default 8
	Parity   Parity // default none
	StopBits int    // 1 or 2, default 1
}

// USBID identifies a USB device by its vendor and product IDs (4 hex digits,
// as lsusb shows them: "04b8", "0e15") and, when several identical devices
// are attached, its serial number.
type USBID struct{ VendorID, ProductID, SerialNumber string }

// IsZero reports whether no field is set.
func (u USBID) IsZero() bool { return u == USBID{} }

func (u USBID) String() string {
	s := u.VendorID + ":" + u.ProductID
	if u.SerialNumber != "" {
		s += " serial " + u.SerialNumber
	}
	return s
}

// baudRates are the rates Validate accepts: the standard rates that receipt
// printers offer (most ship at 9600; some go to 115200).
var baudRates = []int{1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400}

const (
	defaultBaud     = 9600
	defaultDataBits = 8
	defaultStopBits = 1
)

// Validate checks the configuration; each error names the field and the
// rule. All problems are reported together.
func (c Config) Validate() error {
	var errs []error
	if (c.Path == "") == c.USB.IsZero() {
		errs = append(errs, errors.New("path or usb: set exactly one"))
	}
	if !c.USB.IsZero() {
		if !isUSBID(c.USB.VendorID) {
			errs = append(errs, fmt.Errorf("usb.vendor_id: must be 4 hex digits, like 04b8 (got %q)", c.USB.VendorID))
		}
		if !isUSBID(c.USB.ProductID) {
			errs = append(errs, fmt.Errorf("usb.product_id: must be 4 hex digits, like 0e15 (got %q)", c.USB.ProductID))
		}
	}
	if c.Baud != 0 && !slices.Contains(baudRates, c.Baud) {
		rates := make([]string, len(baudRates))
		for i, r := range baudRates {
			rates[i] = strconv.Itoa(r)
		}
		errs = append(errs, fmt.Errorf("baud: must be one of %s (got %d)", strings.Join(rates, ", "), c.Baud))
	}
	if c.DataBits != 0 && c.DataBits != 7 && c.DataBits != 8 {
		errs = append(errs, fmt.Errorf("data_bits: must be 7 or 8 (got %d)", c.DataBits))
	}
	switch c.Parity {
	case "", ParityNone, ParityEven, ParityOdd:
	default:
		errs = append(errs, fmt.Errorf("parity: must be none, even or odd (got %q)", c.Parity))
	}
	if c.StopBits != 0 && c.StopBits != 1 && c.StopBits != 2 {
		errs = append(errs, fmt.Errorf("stop_bits: must be 1 or 2 (got %d)", c.StopBits))
	}
	return errors.Join(errs...)
}

func isUSBID(s string) bool {
	if len(s) != 4 {
		return false
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789abcdefABCDEF", r) {
			return false
		}
	}
	return true
}

// mode turns a validated Config into go.bug.st/serial's line settings,
// applying the defaults.
func (c Config) mode() *serial.Mode {
	m := &serial.Mode{BaudRate: c.Baud, DataBits: c.DataBits, Parity: serial.NoParity, StopBits: serial.OneStopBit}
	if m.BaudRate == 0 {
		m.BaudRate = defaultBaud
	}
	if m.DataBits == 0 {
		m.DataBits = defaultDataBits
	}
	switch c.Parity {
	case ParityEven:
		m.Parity = serial.EvenParity
	case ParityOdd:
		m.Parity = serial.OddParity
	}
	if c.StopBits == 2 {
		m.StopBits = serial.TwoStopBits
	}
	return m
}

// devicePath validates c and returns the device to open: Path, or the one
// USB port matching c.USB.
func (c Config) devicePath() (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	if c.Path != "" {
		return c.Path, nil
	}
	ports, err := List()
	if err != nil {
		return "", fmt.Errorf("usb: %w", err)
	}
	return findUSB(ports, c.USB)
}
