package serialport

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"go.bug.st/serial/enumerator"
)

// PortInfo describes a port found by List. The USB fields are empty for a
// port that is not on USB (a motherboard COM port).
type PortInfo struct {
	Name         string // the path to open: "/dev/ttyUSB0", "COM3", "/dev/usb/lp0"
	USB          bool
	VendorID     string // 4 hex digits
	ProductID    string // 4 hex digits
	SerialNumber string
	Product      string // the device's own name for itself, when it gives one
}

// List returns the serial ports present and, on Linux, the USB printer-class
// devices (/dev/usb/lp*), sorted by name. Pseudo-terminals are not listed.
func List() ([]PortInfo, error) {
	details, err := enumerator.GetDetailedPortsList()
	if err != nil {
		return nil, fmt.Errorf("list serial ports: %w", err)
	}
	var ports []PortInfo
	for _, d := range details {
		if d.Name == "" { // the enumerator leaves ports it cannot describe unnamed
			continue
		}
		ports = append(ports, PortInfo{
			Name: d.Name, USB: d.IsUSB,
			VendorID: strings.ToLower(d.VID), ProductID: strings.ToLower(d.PID),
			SerialNumber: d.SerialNumber, Product: d.Product,
		})
	}
	printers, err := listPrinterClass()
	if err != nil {
		return nil, err
	}
	ports = append(ports, printers...)
	slices.SortFunc(ports, func(a, b PortInfo) int { return strings.Compare(a.Name, b.Name) })
	return ports, nil
}

// findUSB picks the one port matching id. No match is an error wrapping
// fs.ErrNotExist, so a caller can tell "not plugged in" from other failures.
func findUSB(ports []PortInfo, id USBID) (string, error) {
	var names []string
	for _, p := range ports {
		if p.USB && strings.EqualFold(p.VendorID, id.VendorID) && strings.EqualFold(p.ProductID, id.ProductID) &&
			(id.SerialNumber == "" || p.SerialNumber == id.SerialNumber) {
			names = append(names, p.Name)
		}
	}
	switch len(names) {
	case 0:
		return "", fmt.Errorf("usb: no device %s is connected: %w", id, fs.ErrNotExist)
	case 1:
		return names[0], nil
	default:
		return "", fmt.Errorf("usb: %d devices match %s (%s): set usb.serial_number to pick one", len(names), id, strings.Join(names, ", "))
	}
}
