//go:build !linux

package serialport

// listPrinterClass finds no printer-class devices outside Linux: elsewhere a
// USB printer is reached through a serial (virtual COM) driver, or not at all.
func listPrinterClass() ([]PortInfo, error) { return nil, nil }
