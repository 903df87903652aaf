package serialport

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Where the kernel puts USB printer-class devices and describes them;
// variables so that tests can point them at a fake tree.
var (
	usbPrinterDevDir   = "/dev/usb"
	usbPrinterClassDir = "/sys/class/usbmisc"
)

// listPrinterClass lists the usblp devices (/dev/usb/lp*) with the USB
// details of the device they belong to. The class entry links to the USB
// interface; the vendor, product and serial number live one level up, on
// the device.
func listPrinterClass() ([]PortInfo, error) {
	names, err := filepath.Glob(filepath.Join(usbPrinterDevDir, "lp*"))
	if err != nil {
		return nil, fmt.Errorf("list USB printers: %w", err)
	}
	var ports []PortInfo
	for _, name := range names {
		info := PortInfo{Name: name, USB: true}
		iface, err := filepath.EvalSymlinks(filepath.Join(usbPrinterClassDir, filepath.Base(name), "device"))
		if err == nil {
			dev := filepath.Dir(iface)
			info.VendorID = strings.ToLower(readAttr(dev, "idVendor"))
			info.ProductID = strings.ToLower(readAttr(dev, "idProduct"))
			info.SerialNumber = readAttr(dev, "serial")
			info.Product = readAttr(dev, "product")
		}
		ports = append(ports, info)
	}
	return ports, nil
}

func readAttr(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
